import type { Op } from '../history.js';
import { groupBy, maxBy, minBy } from './collections.js';
import type { LeaseOps } from './lease-ops.js';
import type { Violation } from './violation.js';

// Rule (1), no oversubscription (checker.ts): the definite holds, counted per pool and per slot.

/** A lease's definitely-held interval under rule (1). */
export interface Hold {
  readonly leaseId: string;
  readonly pool: string;
  readonly slot: number | undefined;
  readonly from: number;
  readonly to: number;
  readonly grant: Op;
  /** The check-in call or the renewal/checkout whose reservation ended it. */
  readonly endedBy: Op;
}

export function definiteHolds(
  byLease: ReadonlyMap<string, LeaseOps>,
  violations: Violation[],
  toleranceMs: number,
): Hold[] {
  const holds: Hold[] = [];
  for (const [leaseId, { grants, renewals, checkins }] of byLease) {
    const firstGrant = minBy(grants, (op) => op.ret);
    if (!firstGrant) {
      if (renewals.some((op) => op.outcome === 'ok')) {
        violations.push({
          rule: 'malformed',
          message: `lease ${leaseId} renewed but never seen granted`,
          ops: renewals.slice(0, 3),
        });
      }
      continue;
    }
    const successes = [...grants, ...renewals.filter((op) => op.outcome === 'ok')];
    const lastReservation = maxBy(successes, (op) => op.reservedUntil ?? op.expiresAt ?? 0);
    const firstCheckin = minBy(checkins, (op) => op.call);
    const reservedTo = (lastReservation?.reservedUntil ?? lastReservation?.expiresAt ?? 0) - toleranceMs;
    let to = reservedTo;
    let endedBy = lastReservation ?? firstGrant;
    if (firstCheckin && firstCheckin.call < to) {
      to = firstCheckin.call;
      endedBy = firstCheckin;
    }
    if (to <= firstGrant.ret) continue;
    holds.push({
      leaseId,
      pool: firstGrant.pool,
      slot: firstGrant.slot,
      from: firstGrant.ret,
      to,
      grant: firstGrant,
      endedBy,
    });
  }
  return holds;
}

export function checkSeatCounts(
  holds: readonly Hold[],
  pools: Readonly<Record<string, number>>,
  violations: Violation[],
): Record<string, number> {
  const peak: Record<string, number> = {};
  for (const pool of Object.keys(pools)) peak[pool] = 0;
  const byPool = groupBy(holds, (h) => h.pool);
  for (const [pool, poolHolds] of byPool) {
    const seats = pools[pool];
    // Half-open intervals: at equal instants an end is processed before a start.
    const events = poolHolds.flatMap((h) => [
      { at: h.from, delta: 1, hold: h },
      { at: h.to, delta: -1, hold: h },
    ]);
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    const active = new Set<Hold>();
    let over = false;
    let max = 0;
    for (const e of events) {
      if (e.delta > 0) active.add(e.hold);
      else active.delete(e.hold);
      max = Math.max(max, active.size);
      if (seats === undefined) continue;
      if (active.size > seats && !over) {
        const held = [...active].sort((a, b) => a.from - b.from);
        violations.push({
          rule: 'oversubscribed',
          message:
            `${active.size} leases definitely held ${pool} (${seats} seats) at ${e.at}: ` +
            held.map((h) => `${h.leaseId}@slot${h.slot}[${h.from},${h.to})`).join(', '),
          ops: held.flatMap((h) => [h.grant, h.endedBy]),
        });
      }
      over = seats !== undefined && active.size > seats;
    }
    peak[pool] = max;
  }
  return peak;
}

export function checkSlots(holds: readonly Hold[], violations: Violation[]): void {
  const bySlot = groupBy(
    holds.filter((h) => h.slot !== undefined),
    (h) => `${h.pool}#${h.slot}`,
  );
  for (const [slot, slotHolds] of bySlot) {
    const sorted = [...slotHolds].sort((a, b) => a.from - b.from);
    let latest: Hold | undefined;
    for (const h of sorted) {
      if (latest && h.from < latest.to) {
        violations.push({
          rule: 'slot-shared',
          message:
            `${slot}: lease ${h.leaseId} granted (answer at ${h.from}) while ${latest.leaseId} ` +
            `still definitely held it (until ${latest.to})`,
          ops: [latest.grant, latest.endedBy, h.grant],
        });
      }
      if (!latest || h.to > latest.to) latest = h;
    }
  }
}
