import type { JSONWebKeySet } from 'jose';
import type { Listener } from '../events/emitter.js';
import type { Lease, LeaseEvents } from '../lease/lease.js';
import type { LeaseInfo } from '../lease/lease-info.js';
import type { Counters } from '../observability/counters.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import type { VerifyLeaseTokenOptions } from '../token/verify-lease-token.js';
import type { NodeStatus } from '../transport/balancer.js';
import type { DiscoveryState } from '../transport/discovery.js';
import { HttpLeaseholdClient } from './http-leasehold-client.js';
import { type ClientOptions, resolveOptions } from './options.js';

/** Options of {@link LeaseholdClient.checkout}. */
export interface CheckoutOptions {
  /** Draw the seat from this license; by default the node picks one that grants the feature. */
  readonly license?: string;
  /**
   * Idempotency key (8-128 of `A-Z a-z 0-9 . _ : -`). Defaults to a fresh UUID. Pass the same one to
   * retry a checkout whose outcome you do not know: the node answers with the same lease.
   */
  readonly requestId?: string;
  /**
   * Renew automatically, at about a third of the TTL, failing over between nodes (default `true`). With
   * `false`, call `lease.renew()` yourself before `renewAfter`; grace and events still work.
   */
  readonly autoRenew?: boolean;
  /** Cancels the checkout; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A snapshot for dashboards and exporters; see {@link LeaseholdClient.metrics}. */
export interface ClientMetrics {
  /** Counters since `createClient`; they only grow. */
  readonly counters: Readonly<Counters>;
  /** Leases this client holds now, by status. */
  readonly leases: { readonly active: number; readonly degraded: number; readonly lost: number };
  readonly nodes: readonly NodeStatus[];
  readonly discovery: DiscoveryState;
}

/** Events of a client: those of every lease it holds, and failovers of calls that concern no lease. */
export type ClientEvents = LeaseEvents;

/**
 * A connection to a Leasehold cluster. Every call goes to a node chosen by measured latency and load and
 * fails over to another on a network failure, a timeout or an error the node marks `retryable`; any
 * other error is thrown at once as a `LeaseholdClientError`, and so is `ALL_SERVERS_FAILED` when the
 * attempts run out. Leases renew themselves and report what happens to them as events.
 */
export interface LeaseholdClient {
  /** The nodes: the configured ones, normalized, then any discovered from the cluster. */
  readonly servers: readonly string[];
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Checks a seat of `feature` out and keeps it renewed. One request id serves every attempt, so a retry
   * on another node never takes a second seat.
   */
  checkout(feature: string, options?: CheckoutOptions): Promise<Lease>;
  /**
   * Whether a lease this client holds entitles it to `feature` now (active, or degraded within its
   * token's expiry plus signed grace). Synchronous, no I/O: call it on every use of the feature.
   */
  isEntitled(feature: string): boolean;
  /** Renews a lease by id (any node may renew any lease). */
  renew(leaseId: string): Promise<Lease>;
  /** Checks a seat in by lease id (idempotent); resolves to the lease's final view. */
  release(leaseId: string): Promise<LeaseInfo>;
  /** Downloads the cluster's JWK Set (with failover) and keeps it for verification. */
  jwks(): Promise<JSONWebKeySet>;
  /**
   * Verifies a lease token offline: against the kept JWK Set (downloaded when there is none, or again
   * when the token names a key it lacks), judged by this client's trusted time — the wall clock, but never
   * earlier than a time already seen, across restarts with a `stateStore`. `clientId` defaults to this
   * client's.
   */
  verify(token: string, options?: VerifyLeaseTokenOptions): Promise<LeaseTokenClaims>;
  metrics(): ClientMetrics;
  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void;
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void;
  /** Stops every renewal and checks every seat in; later calls throw `CLIENT_CLOSED`. */
  close(): Promise<void>;
}

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
 * if (client.isEntitled('cad')) runSolver();
 * await client.close();
 * ```
 */
export function createClient(options: ClientOptions): LeaseholdClient {
  return new HttpLeaseholdClient(resolveOptions(options));
}
