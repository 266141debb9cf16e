import { isClockMargin, SeatHandOver } from './seat-hand-over.js';

/**
 * The hand-over rule of a node in a cluster: its own margin, widened to the largest margin any node of
 * the cluster has announced, and never narrowed again while the node runs.
 *
 * Why widen: the margin protects a seat against the disagreement between the clock of the node that
 * wrote a lease's deadline and the clock of the node that hands the seat over (seat-hand-over.ts). Every
 * node of a cluster hands seats over, so the protection is only as wide as the narrowest margin among
 * them: one node started with a smaller `maxClockSkewMs` (a typo, a stale unit file, a rolling change)
 * would hand seats to a second client early. Adopting the widest margin announced makes a mismatch cost
 * time (seats return later), never a seat held twice.
 *
 * Why never narrow: a node that announced a wider margin may leave while leases whose deadlines it wrote
 * are still live, and those deadlines carry its clock. Keeping the widest margin seen for the life of the
 * process covers them; lowering the margin of a whole cluster takes a restart of each node with the new
 * value (docs/ha.md, "Expiry").
 */
export class ClusterSeatHandOver extends SeatHandOver {
  readonly configuredMs: number;
  #widest: number;

  /** @param maxClockSkewMs this node's own margin (its configuration), as for SeatHandOver. */
  constructor(maxClockSkewMs = 0) {
    super(maxClockSkewMs);
    this.configuredMs = maxClockSkewMs;
    this.#widest = maxClockSkewMs;
  }

  override get maxClockSkewMs(): number {
    return this.#widest;
  }

  /**
   * Takes in the margins the cluster's nodes announce (undefined: a node that announces none, e.g. an
   * older version; anything that is not a margin a node would accept is ignored). Answers whether the
   * margin in force widened.
   */
  adopt(announced: Iterable<number | undefined>): boolean {
    let widest = this.#widest;
    for (const margin of announced) if (isClockMargin(margin) && margin > widest) widest = margin;
    if (widest === this.#widest) return false;
    this.#widest = widest;
    return true;
  }
}
