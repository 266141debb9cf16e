import { isClockMargin, MAX_CLOCK_SKEW_MS_LIMIT, SeatHandOver } from './seat-hand-over.js';

/**
 * The hand-over rule of a node in a cluster: the cluster's clock margin, which the store records as the
 * widest margin any node of the cluster has been configured with (`Membership.clockMargin`), and never
 * less than this node's own.
 *
 * Why the widest: the margin protects a seat against the disagreement between the clock of the node that
 * wrote a lease's deadline and the clock of the node that hands the seat over (seat-hand-over.ts). Every
 * node hands seats over, so the protection is only as wide as the narrowest margin in use: one node left
 * with a smaller `maxClockSkewMs` (a typo, a stale unit file, a rolling change) would hand seats to a
 * second client early. With the widest, a mismatch costs time (seats return later), never a seat held
 * twice.
 *
 * Why recorded in the store and not learned from the live nodes: a node configured wider may stop while
 * leases whose deadlines its clock wrote are still live, and a node that starts after it must still wait
 * out its margin. Until this node has read the recorded margin (`settle`), it assumes the widest margin
 * any node accepts, so nothing it does before that read hands a seat over early.
 */
export class ClusterSeatHandOver extends SeatHandOver {
  #inForce: number | undefined;

  /** This node's own margin: what it was constructed with (its configuration), as for SeatHandOver. */
  get configuredMs(): number {
    return super.maxClockSkewMs;
  }

  /** The margin in force: the cluster's recorded one (at least this node's), or the limit before it is known. */
  override get maxClockSkewMs(): number {
    return this.#inForce ?? MAX_CLOCK_SKEW_MS_LIMIT;
  }

  /** Whether the cluster's margin has been read since this node started. */
  get known(): boolean {
    return this.#inForce !== undefined;
  }

  /**
   * Takes the cluster's recorded margin (a value that is not a margin a node accepts is ignored). Answers
   * whether the margin in force changed.
   */
  settle(recordedMs: number): boolean {
    if (!isClockMargin(recordedMs)) return false;
    const inForce = Math.max(recordedMs, this.configuredMs);
    if (inForce === this.#inForce) return false;
    this.#inForce = inForce;
    return true;
  }
}
