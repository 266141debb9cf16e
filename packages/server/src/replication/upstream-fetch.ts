import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { LeaseholdError } from '@leasehold/domain';

/** TLS toward the primary: its CA, and our client certificate and key for mTLS (PEM text). */
export interface UpstreamTls {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** The part of `fetch` a node's calls to its primary use (tests inject the primary's routes with it). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

// Statuses whose Response must have a null body (Fetch standard, "null body status").
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The one transport from a replica or an edge site to its primary (docs/replication.md, "TLS toward the
 * primary"): a `fetch` on `node:http(s)` that presents the client certificate. Not the global fetch, which
 * cannot present one without undici's dispatcher API (a version that must match Node's bundled copy; the
 * devtools' `tlsFetch` says the same). Connections are kept alive by Node's global agent, pooled per TLS
 * identity.
 *
 * A TLS failure rejects with `UPSTREAM_TLS_FAILED` naming the TLS error and what to set; any other failure
 * rejects like fetch (`TypeError('fetch failed', { cause })`), which the caller turns into
 * `STORE_UNAVAILABLE`. Only a string body is sent (every call is JSON).
 */
export function upstreamFetch(tls: UpstreamTls | undefined): FetchLike {
  const credentials = {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
  };
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const body = typeof init.body === 'string' ? init.body : undefined;
      const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      // What the socket went through, to tell a refused client certificate from a network fault.
      let handshakeDone = false;
      let answered = false;
      const failed = (cause: unknown) => {
        if (init.signal?.aborted) return reject(init.signal.reason);
        const tlsFailure = secure
          ? upstreamTlsFailure(target.origin, cause, { handshakeDone, answered, presented: !!tls?.cert })
          : undefined;
        reject(tlsFailure ?? new TypeError('fetch failed', { cause }));
      };
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: init.method ?? 'GET',
          headers,
          ...(init.signal ? { signal: init.signal } : {}),
          ...(secure ? credentials : {}),
        },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', failed);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 599) return failed(new Error(`unexpected HTTP status ${status}`));
            resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status }));
          });
        },
      );
      // A kept-alive socket was shaken hands with before: no event, and a reset on it is no TLS verdict.
      req.on('socket', (socket) => {
        (socket as TLSSocket).once('secureConnect', () => {
          handshakeDone = true;
        });
      });
      req.on('error', failed);
      req.end(body);
    });
}

// Verification of the primary's certificate by this node (OpenSSL's X509_V_ERR_* names, Node's own).
const SERVER_NOT_TRUSTED =
  /^(CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|INVALID_CA$|INVALID_PURPOSE$|PATH_LENGTH_EXCEEDED$|HOSTNAME_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;

/**
 * The coded error for a failed TLS set-up with the primary, or undefined when `cause` is no TLS failure.
 * One case has no TLS error of its own: Node's TLS server ends a handshake whose client certificate does
 * not verify (another CA, expired, not for client use) by destroying the socket without an alert
 * (test/tls/handshake.test.ts), so a fresh connection reset after a completed handshake and before any
 * answer is read as that refusal; a reset of a kept-alive connection never is.
 */
export function upstreamTlsFailure(
  primary: string,
  cause: unknown,
  seen: { handshakeDone: boolean; answered: boolean; presented: boolean },
): LeaseholdError | undefined {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const own = seen.presented ? 'upstreamTlsCert' : 'none set';
  let advice: string | undefined;
  if (SERVER_NOT_TRUSTED.test(code)) {
    advice =
      "the primary's certificate does not verify: set upstreamTlsCa to the CA that issued it " +
      '(without it the system CAs are used)';
  } else if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    advice = 'the primary requires a client certificate: set upstreamTlsCert and upstreamTlsKey';
  } else if (/^ERR_SSL_.*ALERT/.test(code)) {
    advice = `the primary refused this node's client certificate (${own}): use one its tlsCa issued`;
  } else if (/^(ERR_SSL_|ERR_TLS_|EPROTO$)/.test(code)) {
    advice = 'no TLS session could be set up: is the primary serving HTTPS at this URL?';
  } else if (seen.handshakeDone && !seen.answered && (code === 'ECONNRESET' || code === 'EPIPE')) {
    advice = seen.presented
      ? "the primary closed the connection right after the TLS handshake, before answering: it did not accept this node's client certificate (upstreamTlsCert: from another CA than its tlsCa, expired, or not for client use)"
      : 'the primary closed the connection right after the TLS handshake, before answering: it may require a client certificate (set upstreamTlsCert and upstreamTlsKey)';
  }
  if (advice === undefined) return undefined;
  return new LeaseholdError(
    'UPSTREAM_TLS_FAILED',
    `TLS with the primary ${primary} failed (${code}): ${advice}`,
    { primary, tlsError: code },
    { cause },
  );
}
