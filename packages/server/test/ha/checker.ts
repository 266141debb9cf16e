import { checkIdempotence } from './checker/idempotence.js';
import { groupByLease } from './checker/lease-ops.js';
import { checkLostLeases } from './checker/lost-leases.js';
import { checkSeatCounts, checkSlots, definiteHolds } from './checker/seat-holds.js';
import type { Violation } from './checker/violation.js';
import type { HistoryData } from './history.js';

/**
 * The fault run's checker: a pure function of a recorded history (see history.ts; all instants are
 * Date.now() readings of the machine the nodes run on) that proves, or refutes, three properties.
 *
 * Only what the clients *saw* counts, and every rule is written so that a correct server can never be
 * accused (no false positives), whatever the timing of unknown outcomes:
 *
 * (1) No oversubscription. A lease *definitely holds* its seat during [from, to), where
 *     - from = the earliest *return* of a successful checkout naming it (before that the client did not
 *       know it held anything; a checkout whose answer was lost is never counted);
 *     - to = the earlier of
 *         - the earliest *call* of any check-in of it (from the moment a check-in is sent it may take effect,
 *           whatever its recorded outcome), and
 *         - its last known reservation: the largest `reservedUntil` returned by a successful checkout or
 *           renewal of it. The store only frees a seat at `reservedUntil` (compared with the acting node's
 *           clock — the same clock here), reservations only grow, a renewal whose answer was lost can only
 *           extend it, and a renewal that succeeded proves that the lease still owned its slot when the
 *           renewal committed (its compares); so the seat is held without a gap up to that instant.
 *     The number of leases definitely holding a seat of a pool must never exceed the pool's seats; and two
 *     leases of the same pool and slot must never definitely hold it at once (a stronger check that names
 *     the two leases).
 *
 * (2) No acknowledged lease lost while its client kept renewing. A renewal or check-in of lease L that
 *     answers LEASE_EXPIRED / LEASE_NOT_FOUND / LEASE_RELEASED (or a check-in that answers 2xx with state
 *     `expired`) is a violation when L's latest `expiresAt` known before the call (from successful
 *     checkouts/renewals of L that *returned before the call*) is later than the failing call's *return*.
 *     The node decided at some instant in [call, return] and the lease held its seat until at least that
 *     expiresAt, so it was alive when the node decided. (Comparing with the call instead would accuse a
 *     correct server whose answer was decided just after expiresAt, within the call.) LEASE_RELEASED for
 *     a lease nobody had sent a check-in for is a violation whatever the times. Lost leases after their
 *     known expiry (the client could not renew during an outage) and 503s are fine.
 *
 * (3) Idempotent checkout. All successful checkouts with one (client, requestId) name one lease id; a
 *     lease id is never the answer to two different request ids; the lease records the request id sent.
 *
 * Clock steps (the soak): docs/ha.md states the price of stored deadlines — a node whose clock runs ahead
 * frees a seat early by its skew, and may find a lease expired that much early. `clockToleranceMs` (default
 * 0) is that bound: rule (1) ends a hold at its last reservation minus the tolerance, and rule (2) accuses a
 * refusal only when the known expiry was more than the tolerance after it. With no clock faults keep 0.
 *
 * Also reported as `malformed`: a 2xx answer without the fields the rules need, a lease of another pool
 * than asked for, a pool the checker has no seat count for.
 *
 * {@link checkStoreRecords} adds what only the store's own records can show, read after the run
 * (`GET /v1/leases?all=true`): a second lease for one request id that no client ever saw (a checkout
 * whose answer was lost, granted twice), an acknowledged lease or renewal the store forgot, a lease
 * released though no check-in was ever sent.
 *
 * One rule per file under `checker/` (seat-holds.ts: rule (1); lost-leases.ts: (2); idempotence.ts: (3);
 * store-records.ts: the store check); this file runs them and is what the fault run, the soak and the
 * partition test import.
 */
export type { Hold } from './checker/seat-holds.js';
export { checkStoreRecords, type StoredLease } from './checker/store-records.js';
export type { Rule, Violation } from './checker/violation.js';

export interface CheckResult {
  readonly violations: readonly Violation[];
  /** Per pool, the largest number of leases definitely holding a seat at one instant. */
  readonly peakHeld: Readonly<Record<string, number>>;
  /** Leases granted to a client that saw the grant. */
  readonly leases: number;
}

export function checkHistory(
  history: HistoryData,
  pools: Readonly<Record<string, number>>,
  clockToleranceMs = 0,
  /**
   * Rule (2)'s own tolerance, when it differs: with the clock margin (docs/ha.md "Expiry") no seat is
   * freed early (rule (1) at 0), yet a node whose clock runs ahead still finds its holder's lease expired
   * at the deadline on its own clock, early by its skew — the holder's view is not part of the margin.
   */
  expiryToleranceMs = clockToleranceMs,
): CheckResult {
  const violations: Violation[] = [];
  const byLease = groupByLease(history.ops, violations, pools);
  const holds = definiteHolds(byLease, violations, clockToleranceMs);
  const peakHeld = checkSeatCounts(holds, pools, violations);
  checkSlots(holds, violations);
  checkLostLeases(byLease, violations, expiryToleranceMs);
  checkIdempotence(history.ops, violations);
  return { violations, peakHeld, leases: holds.length };
}
