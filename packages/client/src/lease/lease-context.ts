import type { Log } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import type { Entitlement } from './entitlement.js';
import type { LeaseEvents } from './lease.js';
import type { LeaseHandle } from './lease-handle.js';
import type { LeaseGrant, LeaseInfo } from './lease-info.js';

/** A verified grant: what a checkout or a renewal brings back. */
export interface Granted {
  readonly grant: LeaseGrant;
  readonly claims: LeaseTokenClaims;
  readonly entitlement: Entitlement;
  readonly server: string;
}

/** How a lease retries while no node answers; see `ClientOptions.renewal`. */
export interface RenewalPolicy {
  /** First retry waits about this long; the wait doubles with each failed pass. */
  readonly baseDelayMs: number;
  /** Upper bound of the wait while the lease is still entitled (degraded). */
  readonly retryMaxDelayMs: number;
  /** Upper bound of the wait once it is lost. */
  readonly lostRetryMaxDelayMs: number;
}

export interface CallMode {
  readonly signal?: AbortSignal | undefined;
  /** A background pass tries each node once and never keeps the process alive; a foreground call retries. */
  readonly background: boolean;
  /** The node to try first while it is healthy: the one that served this lease last. */
  readonly prefer?: string | undefined;
}

export interface CheckoutRequest {
  readonly feature: string;
  readonly license: string | undefined;
  readonly requestId: string;
}

/** What a lease needs from its client. */
export interface LeaseContext {
  readonly clock: Clock;
  readonly random: () => number;
  readonly renewal: RenewalPolicy;
  readonly log: Log;
  renewLease(lease: LeaseHandle, leaseId: string, mode: CallMode): Promise<Granted>;
  checkoutSeat(lease: LeaseHandle | undefined, request: CheckoutRequest, mode: CallMode): Promise<Granted>;
  releaseLease(lease: LeaseHandle, leaseId: string): Promise<LeaseInfo>;
  newRequestId(): string;
  /** The client-level side of every lease event: its own listeners, counters, diagnostics, logs. */
  notify<K extends keyof LeaseEvents>(event: K, payload: LeaseEvents[K]): void;
  /** The lease is closed: the client no longer counts it. */
  forget(lease: LeaseHandle): void;
}
