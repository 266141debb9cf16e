import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IOptions } from 'etcd3';

/**
 * POSTs `{}`-style JSON to etcd's gRPC-JSON gateway and parses the answer. `node:http(s)` rather than the
 * global fetch: with `--client-cert-auth` the gateway, like gRPC, wants our client certificate, and the
 * global fetch cannot present one (that needs undici's dispatcher, pinned to Node's bundled version).
 */
export function postGateway(
  url: string,
  body: unknown,
  options: { readonly credentials: IOptions['credentials']; readonly timeoutMs: number },
): Promise<{ status: number; json: unknown }> {
  const secure = url.startsWith('https:');
  const text = JSON.stringify(body);
  const tls = options.credentials
    ? {
        ca: options.credentials.rootCertificate,
        ...(options.credentials.certChain ? { cert: options.credentials.certChain } : {}),
        ...(options.credentials.privateKey ? { key: options.credentials.privateKey } : {}),
      }
    : {};
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(secure ? tls : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
