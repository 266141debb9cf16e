import type { LostReason } from './lease.js';
import type { RenewalPolicy } from './lease-context.js';

// Answers that mean the lease no longer exists on the cluster but a new one may be checked out.
const GONE = new Set(['LEASE_EXPIRED', 'LEASE_NOT_FOUND']);
// Every seat is taken: on a cluster, or (SEAT_BLOCK_FULL) of an edge site's block. A checkout keeps asking.
const SEATS_TAKEN = new Set(['SEATS_EXHAUSTED', 'SEAT_BLOCK_FULL']);
const FINAL_REASONS: Readonly<Record<string, LostReason>> = {
  LEASE_REVOKED: 'revoked',
  LEASE_RELEASED: 'released',
};

/** What a lease does after a failed renewal pass (or re-checkout); lease-handle.ts carries it out. */
export type AfterFailure =
  /** No node could answer: keep the feature on the token and its grace, and try again after a backoff. */
  | { readonly kind: 'retry' }
  /** The lease ended on the cluster: check a new one out at once, with a new request id. */
  | { readonly kind: 'check-out-anew' }
  /** The re-checkout's request id names a lease that has ended too: the next try needs a new one. */
  | { readonly kind: 'new-request-id' }
  /** A node answered that every seat is taken: the feature is locked now; keep asking. */
  | { readonly kind: 'seats-taken' }
  /** Any other refusal closes the lease for good. */
  | { readonly kind: 'final'; readonly reason: LostReason };

/**
 * The decision of a failed pass, by the error and whether the pass was a re-checkout. The decision alone,
 * so that the state machine reads as its effects.
 */
export function afterFailure(
  error: { readonly code: string; readonly retryable: boolean },
  rechecking: boolean,
): AfterFailure {
  if (error.retryable) return { kind: 'retry' };
  // An edge whose block shrank renews no more leases than the block holds (docs/replication.md): this
  // one runs out at its deadline there, so a seat is asked for anew, as after LEASE_EXPIRED.
  if (GONE.has(error.code) || (error.code === 'SEAT_BLOCK_FULL' && !rechecking)) {
    return rechecking ? { kind: 'new-request-id' } : { kind: 'check-out-anew' };
  }
  if (SEATS_TAKEN.has(error.code) && rechecking) return { kind: 'seats-taken' };
  return { kind: 'final', reason: FINAL_REASONS[error.code] ?? 'rejected' };
}

/**
 * The wait before the next pass after `failures` failed ones in a row: "equal jitter" backoff, half the
 * capped exponential wait plus up to as much again at random; the cap is larger once the lease is lost.
 */
export function retryDelay(
  policy: RenewalPolicy,
  failures: number,
  lost: boolean,
  random: () => number,
): number {
  const cap = lost ? policy.lostRetryMaxDelayMs : policy.retryMaxDelayMs;
  const wait = Math.min(cap, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return wait / 2 + (random() * wait) / 2;
}
