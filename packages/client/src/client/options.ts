import { type Clock, systemClock } from '../time/clock.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../transport/backoff.js';
import type { FetchFunction } from '../transport/http-call.js';
import { normalizeServerUrl } from '../transport/server-url.js';

/** How patiently a call goes round the servers; see {@link ClientOptions.retry}. */
export interface RetryOptions {
  /** Rounds over the whole server list (each tries every server once). Default 3. */
  readonly rounds?: number;
  /** Upper bound of the jittered wait before the second round, doubling each round. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of any one wait. Default 1000 ms. */
  readonly maxDelayMs?: number;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The cluster's nodes, e.g. `['https://lic1.example.com', 'https://lic2.example.com']`. */
  readonly servers: readonly string[];
  /** A client API token (`lh_client_…`), bound to one license. */
  readonly token: string;
  /** This installation's stable identity: one machine, one container. Retries are idempotent per client id. */
  readonly clientId: string;
  /** Host name shown to operators in lease listings. */
  readonly host?: string;
  /** User name shown to operators in lease listings. */
  readonly user?: string;
  /** Defaults to the global `fetch`. */
  readonly fetch?: FetchFunction;
  /** Deadline of one attempt on one node, headers and body. Default 3000 ms. */
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions;
  /** Uniform in [0, 1); picks the first server and the backoff jitter. Defaults to `Math.random`. */
  readonly random?: () => number;
  /** Defaults to the system clock. */
  readonly clock?: Clock;
}

/** Options after checking and defaults; frozen. */
export interface ResolvedOptions {
  readonly servers: readonly string[];
  readonly token: string;
  readonly client: { readonly id: string; readonly host?: string; readonly user?: string };
  readonly fetch: FetchFunction;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly random: () => number;
  readonly clock: Clock;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'servers',
  'token',
  'clientId',
  'host',
  'user',
  'fetch',
  'timeoutMs',
  'retry',
  'random',
  'clock',
]);
const RETRY_KEYS: ReadonlySet<string> = new Set(['rounds', 'baseDelayMs', 'maxDelayMs']);
const MAX_INFO_LENGTH = 256; // the server's ClientInfo schema

/** Looks the global `fetch` up at call time, so a fetch installed later (a test's mock) is used. */
const globalFetch: FetchFunction = (url, init) => globalThis.fetch(url, init);

/**
 * Checks the options once, fills in defaults and freezes the result. Every mistake is a `TypeError` that
 * names the option, including unknown keys (a typo must not pass unnoticed).
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createClient needs an options object');
  rejectUnknown(options, KNOWN_KEYS, 'option');

  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new TypeError('options.servers must be a non-empty array of URLs');
  }
  const servers = options.servers.map(normalizeServerUrl);
  const duplicate = servers.find((s, i) => servers.indexOf(s) !== i);
  if (duplicate) throw new TypeError(`options.servers lists ${duplicate} twice`);

  // RFC 6750 §2.1 b64token; anything else would break the Authorization header.
  if (
    typeof options.token !== 'string' ||
    options.token.length > 512 ||
    !/^[A-Za-z0-9\-._~+/]+=*$/.test(options.token)
  ) {
    throw new TypeError('options.token must be an API token such as "lh_client_…"');
  }
  const id = boundedString(options.clientId, 'clientId', 1);
  const host = options.host === undefined ? undefined : boundedString(options.host, 'host', 0);
  const user = options.user === undefined ? undefined : boundedString(options.user, 'user', 0);

  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new TypeError('options.fetch must be a function');
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    throw new TypeError('options.random must be a function');
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.sleep !== 'function') {
    throw new TypeError('options.clock must have now() and sleep(ms)');
  }

  return Object.freeze({
    servers: Object.freeze(servers),
    token: options.token,
    client: Object.freeze({
      id,
      ...(host === undefined ? {} : { host }),
      ...(user === undefined ? {} : { user }),
    }),
    fetch: options.fetch ?? globalFetch,
    timeoutMs: integerInRange(options.timeoutMs ?? 3000, 'timeoutMs', 1),
    retry: resolveRetry(options.retry),
    random: options.random ?? Math.random,
    clock,
  });
}

function resolveRetry(retry: RetryOptions | undefined): RetryPolicy {
  if (retry === undefined) return DEFAULT_RETRY_POLICY;
  if (typeof retry !== 'object' || retry === null) throw new TypeError('options.retry must be an object');
  rejectUnknown(retry, RETRY_KEYS, 'retry option');
  return Object.freeze({
    rounds: integerInRange(retry.rounds ?? DEFAULT_RETRY_POLICY.rounds, 'retry.rounds', 1, 10),
    baseDelayMs: integerInRange(
      retry.baseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
      'retry.baseDelayMs',
      0,
    ),
    maxDelayMs: integerInRange(retry.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs, 'retry.maxDelayMs', 0),
  });
}

/** Throws a `TypeError` naming every key of `object` that is not in `known`. */
export function rejectUnknown(object: object, known: ReadonlySet<string>, what: string): void {
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new TypeError(`unknown ${what} ${unknown.map((k) => `"${k}"`).join(', ')}`);
}

function boundedString(value: unknown, name: string, minLength: number): string {
  if (typeof value !== 'string' || value.length < minLength || value.length > MAX_INFO_LENGTH) {
    throw new TypeError(`options.${name} must be a string of ${minLength} to ${MAX_INFO_LENGTH} characters`);
  }
  return value;
}

function integerInRange(value: unknown, name: string, min: number, max = 600_000): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`options.${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
