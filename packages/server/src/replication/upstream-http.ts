import { ERROR_CODES, type ErrorCode, LeaseholdError } from '@leasehold/domain';
import { FOLLOWER_HEADER, FollowerRegistry } from './follower-registry.js';
import { type FetchLike, type UpstreamTls, upstreamFetch } from './upstream-fetch.js';

export interface UpstreamHttpOptions {
  /** The primary's base URL (`--replica-of`, `--edge-of`). */
  readonly baseUrl: string;
  /** Bearer token for the primary (`--upstream-token`). */
  readonly token: string;
  /** Each call gives up after this unless it says otherwise (a cut link blackholes, it does not refuse). */
  readonly timeoutMs: number;
  /** TLS toward the primary (`upstreamTls*`): its CA, our client certificate. */
  readonly tls?: UpstreamTls | undefined;
  /** This node's id, sent so the primary knows its followers (omitted when not a usable id). */
  readonly follower?: string | undefined;
  /** Injected in tests (the primary's routes through inject()); `upstreamFetch(tls)` otherwise. */
  readonly fetch?: FetchLike;
}

export interface UpstreamCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Send no bearer token and no follower header (a fence statement is its own authority). */
  readonly anonymous?: boolean;
}

/**
 * JSON calls from a replica or an edge site to its primary, the one client both use: bearer token, a
 * deadline per call, the client certificate (`upstreamFetch`), and the primary's coded problem turned back
 * into a `LeaseholdError` with its code. A call that gets no answer (timeout, refused, reset) is
 * `STORE_UNAVAILABLE` (for a follower the primary is where the data lives); one whose TLS set-up failed is
 * `UPSTREAM_TLS_FAILED`, naming the TLS error.
 */
export class UpstreamHttp {
  readonly baseUrl: string;
  readonly #options: UpstreamHttpOptions;
  readonly #fetch: FetchLike;

  constructor(options: UpstreamHttpOptions) {
    this.#options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? upstreamFetch(options.tls);
  }

  async call<T>(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
    options: UpstreamCallOptions = {},
  ): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const follower = options.anonymous ? undefined : FollowerRegistry.idOf(this.#options.follower);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#options.timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(options.anonymous ? {} : { authorization: `Bearer ${this.#options.token}` }),
          ...(follower === undefined ? {} : { [FOLLOWER_HEADER]: follower }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      });
    } catch (err) {
      if (err instanceof LeaseholdError) throw err;
      throw new LeaseholdError(
        'STORE_UNAVAILABLE',
        `the primary ${this.baseUrl} did not answer ${method} ${path} (${describe(err)})`,
        { primary: this.baseUrl },
        { cause: err },
      );
    }
    const text = await response.text().catch(() => '');
    const parsed = parseJson(text);
    if (response.ok && parsed !== undefined) return parsed as T;
    if (response.ok) {
      throw new LeaseholdError(
        'STORE_UNAVAILABLE',
        `the primary ${this.baseUrl} answered ${method} ${path} with no JSON body`,
        { primary: this.baseUrl },
      );
    }
    const problem = (parsed ?? {}) as { code?: unknown; detail?: unknown };
    const known =
      typeof problem.code === 'string' && (ERROR_CODES as readonly string[]).includes(problem.code);
    throw new LeaseholdError(
      known ? (problem.code as ErrorCode) : response.status >= 500 ? 'STORE_UNAVAILABLE' : 'INTERNAL',
      `the primary ${this.baseUrl} answered ${response.status} to ${method} ${path}: ${typeof problem.detail === 'string' ? problem.detail : text.slice(0, 200)}`,
      { primary: this.baseUrl, upstreamStatus: response.status },
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

/** The system error behind fetch's generic "fetch failed", for the message. */
function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  // A system error's code is text (ECONNREFUSED); a DOMException's (a timeout) is a legacy number.
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = (cause as Error | undefined)?.message ?? String(cause);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
