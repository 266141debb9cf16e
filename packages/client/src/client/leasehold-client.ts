import type { JSONWebKeySet } from 'jose';
import { type Lease, LeaseHandle, type LeaseOperations } from '../lease/lease.js';
import type { LeaseGrant, LeaseInfo } from '../lease/lease-info.js';
import { parseLeaseGrant, parseLeaseInfo } from '../lease/parse-lease.js';
import { JWKS_PATH, parseJwks } from '../token/fetch-jwks.js';
import { withFailover } from '../transport/failover.js';
import { type HttpRequest, httpCall } from '../transport/http-call.js';
import { ServerPool } from '../transport/server-pool.js';
import { type ClientOptions, type ResolvedOptions, rejectUnknown, resolveOptions } from './options.js';

/** Options of {@link LeaseholdClient.checkout}. */
export interface CheckoutOptions {
  /** Draw the seat from this license; by default the node picks one that grants the feature. */
  readonly license?: string;
  /**
   * Idempotency key (8-128 of `A-Z a-z 0-9 . _ : -`). Defaults to a fresh UUID. Pass the same one to
   * retry a checkout whose outcome you do not know: the node answers with the same lease.
   */
  readonly requestId?: string;
}

/**
 * A connection to a Leasehold cluster. Every call goes to one node and fails over to the next on a
 * network failure, a timeout or an error the node marks `retryable`; any other error is thrown at once as
 * a `LeaseholdClientError`, and so is `ALL_SERVERS_FAILED` when the attempts run out.
 */
export interface LeaseholdClient {
  /** The nodes, normalized, in the order given. */
  readonly servers: readonly string[];
  /**
   * Checks a seat of `feature` out. One request id serves every attempt, so a retry on another node
   * never takes a second seat.
   */
  checkout(feature: string, options?: CheckoutOptions): Promise<Lease>;
  /** Renews a lease by id (any node may renew any lease). */
  renew(leaseId: string): Promise<Lease>;
  /** Checks a seat in by lease id (idempotent); resolves to the lease's final view. */
  release(leaseId: string): Promise<LeaseInfo>;
  /** The cluster's JWK Set, for `verifyLeaseToken`. */
  jwks(): Promise<JSONWebKeySet>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/; // the server's CheckoutBody.requestId
// A misspelt `requestId` would silently get a fresh id and lose idempotency: unknown keys are refused.
const CHECKOUT_KEYS: ReadonlySet<string> = new Set(['license', 'requestId']);

/**
 * Creates a client for a Leasehold cluster. Options are checked here (a mistake is a `TypeError` naming
 * it); no request is sent until the first call.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   servers: ['https://lic1.example.com', 'https://lic2.example.com'],
 *   token: process.env.LEASEHOLD_TOKEN!,
 *   clientId: machineId,
 * });
 * const lease = await client.checkout('cad');
 * ```
 */
export function createClient(options: ClientOptions): LeaseholdClient {
  return new HttpLeaseholdClient(resolveOptions(options));
}

class HttpLeaseholdClient implements LeaseholdClient, LeaseOperations {
  readonly #options: ResolvedOptions;
  readonly #pool: ServerPool;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#pool = new ServerPool(options.servers, options.random);
  }

  get servers(): readonly string[] {
    return this.#options.servers;
  }

  async checkout(feature: string, options: CheckoutOptions = {}): Promise<Lease> {
    if (typeof feature !== 'string' || feature === '')
      throw new TypeError('feature must be a non-empty string');
    rejectUnknown(options, CHECKOUT_KEYS, 'checkout option');
    if (options.license !== undefined && (typeof options.license !== 'string' || options.license === '')) {
      throw new TypeError('options.license must be a non-empty string');
    }
    // Chosen once, before the first attempt: every retry and failover carries the same key (DESIGN.md,
    // invariant 2), so an attempt whose answer was lost is resolved by the store, not repeated.
    const requestId = options.requestId ?? globalThis.crypto.randomUUID();
    if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
      throw new TypeError('options.requestId must be 8-128 characters of A-Z a-z 0-9 . _ : -');
    }
    const body = { feature, license: options.license, client: this.#options.client, requestId };
    const grant = await this.#call({ method: 'POST', path: 'v1/leases', body }, parseLeaseGrant);
    return new LeaseHandle(grant, this);
  }

  async renew(leaseId: string): Promise<Lease> {
    return new LeaseHandle(await this.renewLease(leaseId), this);
  }

  async release(leaseId: string): Promise<LeaseInfo> {
    return this.releaseLease(leaseId);
  }

  async jwks(): Promise<JSONWebKeySet> {
    return this.#call({ method: 'GET', path: JWKS_PATH }, parseJwks);
  }

  renewLease(leaseId: string): Promise<LeaseGrant> {
    return this.#call({ method: 'POST', path: `${leasePath(leaseId)}/renew` }, parseLeaseGrant);
  }

  releaseLease(leaseId: string): Promise<LeaseInfo> {
    return this.#call({ method: 'DELETE', path: leasePath(leaseId) }, parseLeaseInfo);
  }

  /** One API call with failover; `parse` runs inside the attempt so a malformed answer fails over too. */
  #call<T>(request: Omit<HttpRequest, 'token'>, parse: (json: unknown, server: string) => T): Promise<T> {
    const { fetch, timeoutMs, token, retry, clock, random } = this.#options;
    return withFailover({ pool: this.#pool, policy: retry, clock, random }, async (server) =>
      parse(await httpCall(server, { ...request, token }, { fetch, timeoutMs }), server),
    );
  }
}

function leasePath(leaseId: string): string {
  if (typeof leaseId !== 'string' || leaseId === '')
    throw new TypeError('leaseId must be a non-empty string');
  return `v1/leases/${encodeURIComponent(leaseId)}`;
}
