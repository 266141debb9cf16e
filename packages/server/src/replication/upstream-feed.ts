import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ERROR_CODES, type ErrorCode, LeaseholdError } from '@leasehold/domain';
import type { ChangePage, ReplicationSnapshot } from '@leasehold/store';
import { FOLLOWER_HEADER, FollowerRegistry } from './follower-registry.js';

/** TLS toward the primary: its CA, and our client certificate and key for mTLS (PEM text). */
export interface UpstreamTls {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface UpstreamFeedOptions {
  /** The primary's base URL (`https://primary:7300`). */
  readonly url: string;
  /** A `replica`-scope token of the primary. */
  readonly token: string;
  readonly tls?: UpstreamTls | undefined;
  /** This node's id, sent so the primary knows its followers (omitted when it is not a usable id). */
  readonly follower?: string | undefined;
}

/** The reading side of a primary's feed, as the replica follower (and an edge) uses it. */
export interface UpstreamFeed {
  readonly url: string;
  /** Throws the primary's coded error (REPLICATION_HISTORY_COMPACTED, …) or STORE_UNAVAILABLE. */
  changes(after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<ChangePage>;
  snapshot(signal?: AbortSignal): Promise<ReplicationSnapshot>;
}

/**
 * The primary's feed over HTTP(S) with a bearer token and, when given, a client certificate.
 * `node:http(s)` rather than the global fetch: fetch cannot present a client certificate.
 */
export class HttpUpstreamFeed implements UpstreamFeed {
  readonly url: string;

  constructor(private readonly options: UpstreamFeedOptions) {
    this.url = options.url.replace(/\/+$/, '');
  }

  changes(after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<ChangePage> {
    const wait = `${Math.max(0, Math.round(waitMs))}ms`;
    return this.#get(
      `/v1/replication/changes?after=${after}&limit=${limit}&wait=${wait}`,
      waitMs + 15_000,
      signal,
    ) as Promise<ChangePage>;
  }

  snapshot(signal?: AbortSignal): Promise<ReplicationSnapshot> {
    return this.#get('/v1/replication/snapshot', 60_000, signal) as Promise<ReplicationSnapshot>;
  }

  /**
   * Tells this (old) primary it was superseded (docs/replication.md, "Promotion"): the signed statement
   * is the authority, so no bearer token is sent. Answers the primary's epoch state.
   */
  fence(statement: string, signal?: AbortSignal): Promise<{ epoch: number }> {
    return this.#get('/v1/replication/fence', 2000, signal, { statement }) as Promise<{ epoch: number }>;
  }

  #get(path: string, timeoutMs: number, signal?: AbortSignal, body?: object): Promise<unknown> {
    const url = `${this.url}${path}`;
    const secure = url.startsWith('https:');
    const tls = this.options.tls ?? {};
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    const follower = FollowerRegistry.idOf(this.options.follower);
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: body === undefined ? 'GET' : 'POST',
          headers:
            body === undefined
              ? {
                  authorization: `Bearer ${this.options.token}`,
                  accept: 'application/json',
                  ...(follower === undefined ? {} : { [FOLLOWER_HEADER]: follower }),
                }
              : { accept: 'application/json', 'content-type': 'application/json' },
          signal: AbortSignal.any(signals),
          ...(secure
            ? {
                ...(tls.ca ? { ca: tls.ca } : {}),
                ...(tls.cert ? { cert: tls.cert } : {}),
                ...(tls.key ? { key: tls.key } : {}),
              }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(unreachable(this.url, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch (err) {
              reject(unreachable(this.url, err));
              return;
            }
            if ((res.statusCode ?? 0) === 200) resolve(body);
            else reject(problemError(this.url, res.statusCode ?? 0, body));
          });
        },
      );
      req.on('error', (err) => reject(unreachable(this.url, err)));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}

/** The primary's problem document as our own coded error (its code is from the same registry). */
function problemError(url: string, status: number, body: unknown): LeaseholdError {
  const problem = (body ?? {}) as { code?: string; detail?: string };
  const code = ERROR_CODES.includes(problem.code as ErrorCode)
    ? (problem.code as ErrorCode)
    : 'STORE_UNAVAILABLE';
  return new LeaseholdError(
    code,
    `the primary ${url} answered ${status}: ${problem.detail ?? problem.code ?? ''}`,
    {
      primary: url,
      upstreamStatus: status,
    },
  );
}

function unreachable(url: string, cause: unknown): LeaseholdError {
  return new LeaseholdError(
    'STORE_UNAVAILABLE',
    `the primary ${url} cannot be reached (${(cause as Error)?.message ?? String(cause)})`,
    { primary: url },
    { cause },
  );
}
