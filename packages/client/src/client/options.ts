import type { RenewalPolicy } from '../lease/lease-context.js';
import type { Logger } from '../observability/logger.js';
import { type Clock, checkClock, systemClock } from '../time/clock.js';
import type { StateStore } from '../time/state-store.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../transport/backoff.js';
import { type BreakerPolicy, DEFAULT_BREAKER_POLICY } from '../transport/circuit-breaker.js';
import type { FetchFunction } from '../transport/http-call.js';
import { normalizeServerUrl } from '../transport/server-url.js';
import { TrustAnchor } from '../trust/trust-anchor.js';
import { readVendorKeys, type VendorKeys } from '../trust/vendor-keys.js';

/** How patiently a call goes round the servers; see {@link ClientOptions.retry}. */
export interface RetryOptions {
  /** Rounds over the whole server list (each tries every server once). Default 3. */
  readonly rounds?: number;
  /** Upper bound of the jittered wait before the second round, doubling each round. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of any one wait. Default 1000 ms. */
  readonly maxDelayMs?: number;
}

/** Per-node circuit breakers; see {@link ClientOptions.circuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive retryable failures that open a node's circuit. Default 1. */
  readonly failures?: number;
  /** How long an open circuit skips the node before one probe; doubles per failed probe. Default 1000 ms. */
  readonly cooldownMs?: number;
  /** Upper bound of that doubling. Default 30,000 ms. */
  readonly maxCooldownMs?: number;
}

/** Automatic renewal; see {@link ClientOptions.renewal}. */
export interface RenewalOptions {
  /** Longest wait between failed renewal passes while the lease is degraded. Default 5000 ms. */
  readonly retryMaxDelayMs?: number;
  /** Longest wait between attempts to get a lost lease back. Default 30,000 ms. */
  readonly lostRetryMaxDelayMs?: number;
}

/** Node discovery; see {@link ClientOptions.discovery}. */
export interface DiscoveryOptions {
  /** How often to refresh the node list from `GET /v1/cluster`. Default 60,000 ms. */
  readonly intervalMs?: number;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The cluster's nodes, e.g. `['https://lic1.example.com', 'https://lic2.example.com']`. */
  readonly servers: readonly string[];
  /** A client API token (`lh_client_…`), bound to one license. */
  readonly token: string;
  /**
   * The vendor's public key(s), baked into the product: an Ed25519 JWK, a JWK Set, or the SPKI PEM text of
   * `vendor.pub.pem` (or a list of them). Every grant must chain to a license one of them signed — the
   * license comes with each checkout and renewal, and the lease token is bound to it — or it fails with
   * `LICENSE_UNTRUSTED` and unlocks nothing. Required, unless `insecureSkipVendorCheck` is set.
   */
  readonly vendorKeys?: VendorKeys;
  /** When given, the license must be for this product (its `product` claim); else `LICENSE_UNTRUSTED`. */
  readonly product?: string;
  /**
   * DEVELOPMENT ONLY: accept grants without checking that they chain to a vendor-signed license, so that
   * any Leasehold node — one its operator set up with a self-made "vendor" key — unlocks the product.
   * Logs a warning at start. Never ship it; pass `vendorKeys` instead.
   */
  readonly insecureSkipVendorCheck?: boolean;
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
  readonly circuitBreaker?: CircuitBreakerOptions;
  readonly renewal?: RenewalOptions;
  /**
   * Refresh the node list from the cluster (`GET /v1/cluster`), keeping the configured nodes. `false`
   * keeps exactly the configured list — right when clients must reach the nodes through a proxy or
   * load balancer whose addresses the nodes do not know.
   */
  readonly discovery?: DiscoveryOptions | false;
  /**
   * How far this machine's clock may be from the cluster's. A token a node sends that expired longer
   * ago than this by the local clock is refused: it is an old answer replayed, or the clock is wrong.
   * Default 300,000 ms (5 minutes, as Kerberos allows).
   */
  readonly maxClockSkewMs?: number;
  /** Where the SDK logs (pino-style `logger.warn(fields, message)`); silent by default. */
  readonly logger?: Logger;
  /**
   * Keeps the wall-clock high-water mark and the cluster's JWK Set across restarts (`fileStateStore`,
   * or `localStorage` in a browser). Without one, a clock set back between two runs goes unnoticed by
   * `client.verify`.
   */
  readonly stateStore?: StateStore;
  /** Uniform in [0, 1); picks nodes (two at random per attempt) and jitters waits. Defaults to `Math.random`. */
  readonly random?: () => number;
  /** Defaults to the system clock. */
  readonly clock?: Clock;
}

/** Options after checking and defaults; frozen. */
export interface ResolvedOptions {
  readonly servers: readonly string[];
  readonly token: string;
  /** The vendor keys and product every grant is checked against; undefined only with the opt-out. */
  readonly trust: TrustAnchor | undefined;
  readonly client: { readonly id: string; readonly host?: string; readonly user?: string };
  readonly fetch: FetchFunction;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly breaker: BreakerPolicy;
  readonly renewal: RenewalPolicy;
  readonly discoveryIntervalMs: number | undefined;
  readonly maxClockSkewMs: number;
  readonly logger: Logger | undefined;
  readonly stateStore: StateStore | undefined;
  readonly random: () => number;
  readonly clock: Clock;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'servers',
  'token',
  'vendorKeys',
  'product',
  'insecureSkipVendorCheck',
  'clientId',
  'host',
  'user',
  'fetch',
  'timeoutMs',
  'retry',
  'circuitBreaker',
  'renewal',
  'discovery',
  'maxClockSkewMs',
  'logger',
  'stateStore',
  'random',
  'clock',
]);
const RETRY_KEYS: ReadonlySet<string> = new Set(['rounds', 'baseDelayMs', 'maxDelayMs']);
const BREAKER_KEYS: ReadonlySet<string> = new Set(['failures', 'cooldownMs', 'maxCooldownMs']);
const RENEWAL_KEYS: ReadonlySet<string> = new Set(['retryMaxDelayMs', 'lostRetryMaxDelayMs']);
const DISCOVERY_KEYS: ReadonlySet<string> = new Set(['intervalMs']);
const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const;
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
  const clock = options.clock === undefined ? systemClock : checkClock(options.clock);
  if (
    options.logger !== undefined &&
    (typeof options.logger !== 'object' ||
      options.logger === null ||
      LOGGER_METHODS.some(
        (m) => options.logger?.[m] !== undefined && typeof options.logger[m] !== 'function',
      ))
  ) {
    throw new TypeError('options.logger must be an object with debug/info/warn/error methods');
  }
  const store = options.stateStore;
  if (store !== undefined && (typeof store?.load !== 'function' || typeof store.save !== 'function')) {
    throw new TypeError('options.stateStore must have load() and save(state)');
  }
  const retry = resolveRetry(options.retry);
  const trust = resolveTrust(options);

  return Object.freeze({
    servers: Object.freeze(servers),
    token: options.token,
    trust,
    client: Object.freeze({
      id,
      ...(host === undefined ? {} : { host }),
      ...(user === undefined ? {} : { user }),
    }),
    fetch: options.fetch ?? globalFetch,
    timeoutMs: integerInRange(options.timeoutMs ?? 3000, 'timeoutMs', 1),
    retry,
    breaker: resolveBreaker(options.circuitBreaker),
    renewal: resolveRenewal(options.renewal, retry),
    discoveryIntervalMs: resolveDiscovery(options.discovery),
    maxClockSkewMs: integerInRange(options.maxClockSkewMs ?? 300_000, 'maxClockSkewMs', 0, 86_400_000),
    logger: options.logger,
    stateStore: store,
    random: options.random ?? Math.random,
    clock,
  });
}

function resolveTrust(options: ClientOptions): TrustAnchor | undefined {
  const skip = options.insecureSkipVendorCheck;
  if (skip !== undefined && typeof skip !== 'boolean') {
    throw new TypeError('options.insecureSkipVendorCheck must be a boolean');
  }
  const product = options.product === undefined ? undefined : boundedString(options.product, 'product', 1);
  if (options.vendorKeys === undefined) {
    if (skip !== true) {
      throw new TypeError(
        "options.vendorKeys is required: the vendor's public key(s) (JWK, JWK Set or PEM) that sign your " +
          'licenses; every grant must chain to a license they signed. (For development only, ' +
          'insecureSkipVendorCheck: true turns the check off.)',
      );
    }
    if (product !== undefined)
      throw new TypeError('options.product is checked against vendorKeys: give both');
    return undefined;
  }
  if (skip === true) throw new TypeError('give options.vendorKeys or insecureSkipVendorCheck, not both');
  return new TrustAnchor(readVendorKeys(options.vendorKeys), product);
}

function resolveBreaker(breaker: CircuitBreakerOptions | undefined): BreakerPolicy {
  if (breaker === undefined) return DEFAULT_BREAKER_POLICY;
  checkObject(breaker, 'circuitBreaker', BREAKER_KEYS);
  const d = DEFAULT_BREAKER_POLICY;
  const cooldownMs = integerInRange(breaker.cooldownMs ?? d.cooldownMs, 'circuitBreaker.cooldownMs', 0);
  return Object.freeze({
    failures: integerInRange(breaker.failures ?? d.failures, 'circuitBreaker.failures', 1, 100),
    cooldownMs,
    maxCooldownMs: integerInRange(
      breaker.maxCooldownMs ?? Math.max(cooldownMs, d.maxCooldownMs),
      'circuitBreaker.maxCooldownMs',
      cooldownMs,
    ),
  });
}

function resolveRenewal(renewal: RenewalOptions | undefined, retry: RetryPolicy): RenewalPolicy {
  if (renewal !== undefined) checkObject(renewal, 'renewal', RENEWAL_KEYS);
  return Object.freeze({
    baseDelayMs: Math.max(1, retry.baseDelayMs),
    retryMaxDelayMs: integerInRange(renewal?.retryMaxDelayMs ?? 5000, 'renewal.retryMaxDelayMs', 1),
    lostRetryMaxDelayMs: integerInRange(
      renewal?.lostRetryMaxDelayMs ?? 30_000,
      'renewal.lostRetryMaxDelayMs',
      1,
    ),
  });
}

function resolveDiscovery(discovery: DiscoveryOptions | false | undefined): number | undefined {
  if (discovery === false) return undefined;
  if (discovery === undefined) return 60_000;
  checkObject(discovery, 'discovery', DISCOVERY_KEYS);
  return integerInRange(discovery.intervalMs ?? 60_000, 'discovery.intervalMs', 1000, 86_400_000);
}

function checkObject(value: unknown, name: string, keys: ReadonlySet<string>): void {
  if (typeof value !== 'object' || value === null) throw new TypeError(`options.${name} must be an object`);
  rejectUnknown(value, keys, `${name} option`);
}

function resolveRetry(retry: RetryOptions | undefined): RetryPolicy {
  if (retry === undefined) return DEFAULT_RETRY_POLICY;
  checkObject(retry, 'retry', RETRY_KEYS);
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
