/**
 * The checker of the edge cut test (docs/replication.md): over every grant recorded on both sites, each
 * an interval [granted, end) where end is the check-in or the lease's deadline, whichever came first.
 */

export type Site = 'primary' | 'edge';

export interface RecordedGrant {
  readonly site: Site;
  readonly leaseId: string;
  /** When the store granted it (the lease's createdAt), epoch ms. */
  readonly granted: number;
  /** When it stopped holding a seat: check-in time, or its reservation's end if that came first. */
  readonly end: number;
}

export interface CutWindow {
  /** When the link was cut (after the last renewal that could have reached the primary was sent). */
  readonly cutAt: number;
  readonly healAt: number;
  readonly blockTtlMs: number;
}

export interface GrantCheck {
  /** Most seats held at one instant across both sites, and when. */
  readonly peakTotal: { readonly seats: number; readonly at: number };
  readonly peakEdge: { readonly seats: number; readonly at: number };
  /** Edge grants made during the cut while its block lasted. */
  readonly edgeGrantsInCut: number;
  /** Edge leases that held a seat at some instant between the block's latest deadline and the heal. */
  readonly edgeHeldAfterDeadline: readonly RecordedGrant[];
  readonly edgeGrantsAfterHeal: number;
  /** Most seats the primary held at one instant after the edge's block ran out at the primary, in the cut. */
  readonly peakPrimaryWhileBlockLapsed: number;
  readonly violations: readonly string[];
}

/** Seats held at each instant: a sweep over the intervals' ends (an end at t frees before a grant at t). */
export function peakHeld(
  grants: readonly RecordedGrant[],
  from = -Infinity,
  to = Infinity,
): { seats: number; at: number } {
  const points: [number, number][] = [];
  for (const g of grants) {
    const start = Math.max(g.granted, from);
    const end = Math.min(g.end, to);
    if (end <= start) continue;
    points.push([start, 1], [end, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let held = 0;
  let peak = { seats: 0, at: from };
  for (const [at, delta] of points) {
    held += delta;
    if (held > peak.seats) peak = { seats: held, at };
  }
  return peak;
}

/**
 * Proves the edge invariants over a recorded run: primary + edge ≤ `licensed` at every instant; the edge
 * never over its block; during the cut the edge served until its block's deadline — at the latest
 * `cutAt + blockTtlMs`, since no renewal reached the primary after `cutAt` — and held nothing from then
 * until the heal.
 */
export function checkGrants(
  grants: readonly RecordedGrant[],
  licensed: number,
  block: number,
  cut: CutWindow,
): GrantCheck {
  const violations: string[] = [];
  const edge = grants.filter((g) => g.site === 'edge');
  const primary = grants.filter((g) => g.site === 'primary');
  const peakTotal = peakHeld(grants);
  if (peakTotal.seats > licensed) {
    violations.push(`${peakTotal.seats} seats held at ${peakTotal.at}, over the ${licensed} licensed`);
  }
  const peakEdge = peakHeld(edge);
  if (peakEdge.seats > block)
    violations.push(`the edge held ${peakEdge.seats} seats at ${peakEdge.at}, over its block of ${block}`);
  const deadline = cut.cutAt + cut.blockTtlMs;
  const edgeHeldAfterDeadline = edge.filter((g) => g.end > deadline && g.granted < cut.healAt);
  for (const g of edgeHeldAfterDeadline) {
    violations.push(
      `edge lease ${g.leaseId} held [${g.granted}, ${g.end}) past the block deadline ${deadline} in the cut`,
    );
  }
  const edgeGrantsInCut = edge.filter((g) => g.granted >= cut.cutAt && g.granted < deadline).length;
  const edgeGrantsAfterHeal = edge.filter((g) => g.granted >= cut.healAt).length;
  return {
    peakTotal,
    peakEdge,
    edgeGrantsInCut,
    edgeHeldAfterDeadline,
    edgeGrantsAfterHeal,
    peakPrimaryWhileBlockLapsed: peakHeld(primary, deadline + 1000, cut.healAt).seats,
    violations,
  };
}
