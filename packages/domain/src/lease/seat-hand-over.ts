import type { Lease } from './lease.js';

/** The largest clock margin a node accepts: a minute of seat-return delay is already more than any NTP fault. */
export const MAX_CLOCK_SKEW_MS_LIMIT = 60_000;

/**
 * When a seat may go to another lease: the one rule every backend asks (checkout's takeover of an expired
 * slot, the expiry sweep, seat-usage counts, a force-release of a lease past its deadline).
 *
 * A lease's `reservedUntil` R was written from the clock of the node that granted or renewed it; the
 * holder counts its lease as a duration from the answer, not on any node's clock. A node whose clock runs
 * ahead of the granting node's by s reads R as passed s early, and a node whose clock runs behind when it
 * writes R stores an R that is s early on everyone else's clock; either way a seat handed over at R could
 * go to a second client while the first still uses it (issue 14's soak: 104 overlaps during +2 s steps).
 * With `maxClockSkewMs` M bounding how far two node clocks may disagree, a seat is handed over only at
 * R + M on the acting node's clock: then at least R on the granting node's, so at least the lease's TTL
 * after the store write was sent (TrueTime's idea: wait out the clock uncertainty before acting).
 *
 * The holder's own view does not change: its lease expires at R (`holdsSeat`, `leaseState`), and a
 * renewal after R is refused as before. Only the hand-over to someone else waits the extra M, which is
 * what the margin costs: a seat given up by expiry returns M later (docs/ha.md, "Expiry").
 */
export class SeatHandOver {
  readonly #margin: number;

  /** @param maxClockSkewMs M: how far two node clocks may disagree, whole ms in [0, 60,000]; 0 is off. */
  constructor(maxClockSkewMs = 0) {
    if (!isClockMargin(maxClockSkewMs)) {
      throw new TypeError(
        `maxClockSkewMs must be a whole number of ms from 0 to ${MAX_CLOCK_SKEW_MS_LIMIT}, got ${maxClockSkewMs}`,
      );
    }
    this.#margin = maxClockSkewMs;
  }

  /** M, the margin every rule below applies (ClusterSeatHandOver widens it to the cluster's). */
  get maxClockSkewMs(): number {
    return this.#margin;
  }

  /** The instant (on the acting node's clock) from which the lease's seat may go to another lease. */
  freeAt(lease: Pick<Lease, 'reservedUntil'>): number {
    return lease.reservedUntil + this.maxClockSkewMs;
  }

  /** Whether `lease` still keeps its seat from everyone else at `now`: not ended, and before `freeAt`. */
  occupies(lease: Lease, now: number): boolean {
    return lease.endReason === undefined && now < this.freeAt(lease);
  }

  /**
   * For deadline-ordered indexes: a live lease whose `reservedUntil` is at most this has freed its seat at
   * `now` (the sweep's range, SQL `reserved_until <= ?`); one with a later deadline still occupies it.
   */
  freedDeadlineAt(now: number): number {
    return now - this.maxClockSkewMs;
  }
}

/** Whether `ms` is a clock margin a node accepts: whole ms in [0, MAX_CLOCK_SKEW_MS_LIMIT]. */
export function isClockMargin(ms: unknown): ms is number {
  return Number.isInteger(ms) && (ms as number) >= 0 && (ms as number) <= MAX_CLOCK_SKEW_MS_LIMIT;
}

/** No margin: seats return exactly at `reservedUntil` (single-clock tests; the stores' default). */
export const EXACT_HAND_OVER = new SeatHandOver(0);
