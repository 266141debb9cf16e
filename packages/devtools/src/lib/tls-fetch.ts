import { request } from 'node:https';

/** PEM texts for a mutual-TLS call: the CA that verifies the server, and our client certificate. */
export interface TlsClientCredentials {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * A `fetch` that speaks HTTPS with a client certificate. Node's global fetch cannot present one without
 * undici's dispatcher API, whose version must match Node's bundled copy; `node:https` has no such catch.
 * Supports what the harness uses: method, headers, a string body, an abort signal. Failures reject with
 * `TypeError('fetch failed', { cause })` as the global fetch does, the cause carrying the TLS error code.
 *
 * @example
 * ```ts
 * const fetchTls = tlsFetch({ ca, cert, key });
 * const answer = await fetchTls('https://127.0.0.1:2379/health');
 * ```
 */
export function tlsFetch(credentials: TlsClientCredentials): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    const body = typeof init.body === 'string' ? init.body : undefined;
    if (init.body != null && body === undefined) throw new TypeError('tlsFetch: only string bodies');
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          ca: credentials.ca,
          ...(credentials.cert ? { cert: credentials.cert } : {}),
          ...(credentials.key ? { key: credentials.key } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (cause) => reject(new TypeError('fetch failed', { cause })));
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            const responseHeaders = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              for (const value of [v ?? []].flat()) responseHeaders.append(k, value);
            }
            const nullBody = status === 204 || status === 304 || status < 200;
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: responseHeaders }),
            );
          });
        },
      );
      req.on('error', (cause) => reject(new TypeError('fetch failed', { cause })));
      req.end(body);
    });
  }) as typeof fetch;
}
