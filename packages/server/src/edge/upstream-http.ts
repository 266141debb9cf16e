import { ERROR_CODES, type ErrorCode, LeaseholdError } from '@leasehold/domain';
import { FOLLOWER_HEADER, FollowerRegistry } from '../replication/follower-registry.js';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface UpstreamHttpOptions {
  /** The primary's base URL (`--edge-of`). */
  readonly baseUrl: string;
  /** Bearer token for the primary (`--upstream-token`). */
  readonly token: string;
  /** Each call gives up after this (a cut link blackholes, it does not refuse). */
  readonly timeoutMs: number;
  /** The edge's site id, sent so the primary knows its followers (omitted when not a usable id). */
  readonly follower?: string;
  readonly fetch?: FetchLike;
}

/**
 * JSON calls from an edge to its primary: bearer token, a deadline per call, and the primary's coded
 * problem turned back into a `LeaseholdError` with its code. A call that gets no answer (timeout, refused,
 * reset) is `STORE_UNAVAILABLE`: for the edge, the primary is where the block lives.
 */
export class UpstreamHttp {
  readonly #options: UpstreamHttpOptions;
  readonly #fetch: FetchLike;

  constructor(options: UpstreamHttpOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  async call<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.#options.baseUrl).toString();
    const follower = FollowerRegistry.idOf(this.#options.follower);
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#options.token}`,
          ...(follower === undefined ? {} : { [FOLLOWER_HEADER]: follower }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (err) {
      throw new LeaseholdError(
        'STORE_UNAVAILABLE',
        `the primary did not answer ${method} ${path}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    const text = await response.text().catch(() => '');
    const parsed = parseJson(text);
    if (response.ok) return parsed as T;
    const code = (parsed as { code?: unknown } | undefined)?.code;
    const known = typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
    throw new LeaseholdError(
      known ? (code as ErrorCode) : response.status >= 500 ? 'STORE_UNAVAILABLE' : 'INTERNAL',
      `the primary answered ${response.status} to ${method} ${path}: ${(parsed as { detail?: string } | undefined)?.detail ?? text.slice(0, 200)}`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
