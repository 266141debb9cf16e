import type { HistoryData, Op } from './history.js';

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
 */
export type Rule = 'oversubscribed' | 'slot-shared' | 'lease-lost' | 'duplicate-lease' | 'malformed';

export interface Violation {
  readonly rule: Rule;
  readonly message: string;
  /** The operations that show it (an excerpt of the history). */
  readonly ops: readonly Op[];
}

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

export interface CheckResult {
  readonly violations: readonly Violation[];
  /** Per pool, the largest number of leases definitely holding a seat at one instant. */
  readonly peakHeld: Readonly<Record<string, number>>;
  /** Leases granted to a client that saw the grant. */
  readonly leases: number;
}

const LOST_CODES = new Set(['LEASE_EXPIRED', 'LEASE_NOT_FOUND', 'LEASE_RELEASED']);

interface LeaseOps {
  readonly grants: Op[];
  readonly renewals: Op[];
  readonly checkins: Op[];
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

function groupByLease(
  ops: readonly Op[],
  violations: Violation[],
  pools: Readonly<Record<string, number>>,
): Map<string, LeaseOps> {
  const byLease = new Map<string, LeaseOps>();
  const entry = (id: string): LeaseOps => {
    let e = byLease.get(id);
    if (!e) {
      e = { grants: [], renewals: [], checkins: [] };
      byLease.set(id, e);
    }
    return e;
  };
  const unknownPools = new Set<string>();
  for (const op of ops) {
    if (pools[op.pool] === undefined && !unknownPools.has(op.pool)) {
      unknownPools.add(op.pool);
      violations.push({ rule: 'malformed', message: `no seat count for pool ${op.pool}`, ops: [op] });
    }
    if (op.kind === 'checkout') {
      if (op.outcome !== 'ok') continue;
      if (op.leaseId === undefined || op.expiresAt === undefined || op.reservedUntil === undefined) {
        violations.push({
          rule: 'malformed',
          message: 'a successful checkout without id or expiry',
          ops: [op],
        });
        continue;
      }
      if (op.leasePool !== undefined && op.leasePool !== op.pool) {
        violations.push({
          rule: 'malformed',
          message: `checkout for ${op.pool} granted a lease of ${op.leasePool}`,
          ops: [op],
        });
      }
      entry(op.leaseId).grants.push(op);
      continue;
    }
    if (op.leaseId === undefined) {
      violations.push({ rule: 'malformed', message: `a ${op.kind} without a lease id`, ops: [op] });
      continue;
    }
    if (op.outcome === 'ok' && op.answeredId !== undefined && op.answeredId !== op.leaseId) {
      violations.push({
        rule: 'malformed',
        message: `${op.kind} of ${op.leaseId} answered for lease ${op.answeredId}`,
        ops: [op],
      });
    }
    if (op.kind === 'renew') {
      if (op.outcome === 'ok' && (op.expiresAt === undefined || op.reservedUntil === undefined)) {
        violations.push({ rule: 'malformed', message: 'a successful renewal without expiry', ops: [op] });
        continue;
      }
      entry(op.leaseId).renewals.push(op);
    } else {
      entry(op.leaseId).checkins.push(op);
    }
  }
  return byLease;
}

function definiteHolds(
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

function checkSeatCounts(
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

function checkSlots(holds: readonly Hold[], violations: Violation[]): void {
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

function checkLostLeases(
  byLease: ReadonlyMap<string, LeaseOps>,
  violations: Violation[],
  toleranceMs: number,
): void {
  for (const [leaseId, { grants, renewals, checkins }] of byLease) {
    const successes = [...grants, ...renewals.filter((op) => op.outcome === 'ok')];
    for (const op of [...renewals, ...checkins]) {
      const refused = op.outcome === 'fail' && op.code !== undefined && LOST_CODES.has(op.code);
      const endedEarly = op.kind === 'checkin' && op.outcome === 'ok' && op.state === 'expired';
      if (!refused && !endedEarly) continue;
      // A check-in sent before this answer may explain it (released, or a renewal racing a check-in).
      const checkedIn = checkins.some((c) => c !== op && c.call < op.ret);
      if (checkedIn) continue;
      const what = refused ? `${op.kind} answered ${op.code}` : 'check-in found it expired';
      if (op.code === 'LEASE_RELEASED') {
        violations.push({
          rule: 'lease-lost',
          message: `lease ${leaseId}: ${what} though no check-in was ever sent for it`,
          ops: [...successes.filter((s) => s.ret <= op.call).slice(-2), op],
        });
        continue;
      }
      const known = maxBy(
        successes.filter((s) => s.ret <= op.call),
        (s) => s.expiresAt ?? 0,
      );
      if (known?.expiresAt !== undefined && known.expiresAt - toleranceMs > op.ret) {
        violations.push({
          rule: 'lease-lost',
          message:
            `lease ${leaseId}: ${what} at [${op.call},${op.ret}] on ${op.node} although it was renewed ` +
            `until ${known.expiresAt} (${known.expiresAt - op.ret} ms later)`,
          ops: [known, op],
        });
      }
    }
  }
}

function checkIdempotence(ops: readonly Op[], violations: Violation[]): void {
  const leasesByRequest = new Map<string, Map<string, Op>>();
  const requestsByLease = new Map<string, Map<string, Op>>();
  for (const op of ops) {
    if (op.kind !== 'checkout' || op.outcome !== 'ok' || op.leaseId === undefined) continue;
    if (op.requestId === undefined) {
      violations.push({ rule: 'malformed', message: 'a checkout without a request id', ops: [op] });
      continue;
    }
    const request = `${op.client}/${op.requestId}`;
    if (op.leaseRequestId !== undefined && op.leaseRequestId !== op.requestId) {
      violations.push({
        rule: 'duplicate-lease',
        message: `checkout ${request} answered lease ${op.leaseId} of request ${op.leaseRequestId}`,
        ops: [op],
      });
    }
    noteFirst(leasesByRequest, request, op.leaseId, op);
    noteFirst(requestsByLease, op.leaseId, request, op);
  }
  reportMany(leasesByRequest, violations, (request, leases) => `request ${request} yielded ${leases} leases`);
  reportMany(
    requestsByLease,
    violations,
    (leaseId, requests) => `lease ${leaseId} answered ${requests} requests`,
  );
}

/** Files `op` under `outer` → `inner`, keeping the first op seen for each pair. */
function noteFirst(index: Map<string, Map<string, Op>>, outer: string, inner: string, op: Op): void {
  const seen = index.get(outer) ?? new Map<string, Op>();
  index.set(outer, seen);
  if (!seen.has(inner)) seen.set(inner, op);
}

/** A duplicate-lease violation for each `outer` filed under more than one `inner`, naming them all. */
function reportMany(
  index: Map<string, Map<string, Op>>,
  violations: Violation[],
  what: (outer: string, count: number) => string,
): void {
  for (const [outer, seen] of index) {
    if (seen.size > 1) {
      violations.push({
        rule: 'duplicate-lease',
        message: `${what(outer, seen.size)}: ${[...seen.keys()].join(', ')}`,
        ops: [...seen.values()],
      });
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function minBy<T>(items: readonly T[], value: (item: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || value(item) < value(best)) best = item;
  return best;
}

function maxBy<T>(items: readonly T[], value: (item: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || value(item) > value(best)) best = item;
  return best;
}

/** A lease as `GET /v1/leases?all=true` lists it (the fields the store check needs). */
export interface StoredLease {
  readonly id: string;
  readonly license: string;
  readonly feature: string;
  readonly slot: number;
  readonly client: { readonly id: string };
  readonly requestId: string;
  readonly state: string;
  readonly reservedUntil: string;
}

/**
 * The store's records after the run against the history (no time races here: the records are final):
 * - `duplicate-lease`: two records for one (client, requestId);
 * - `lease-lost`: a lease a client saw granted has no record; a record's `reservedUntil` is earlier than
 *   one a client was acknowledged (reservations only grow, so an acknowledged grant or renewal was not
 *   durable); a record `released` though no check-in of it was ever sent (whatever its outcome);
 * - `malformed`: a record of another pool or slot than the grant said.
 */
export function checkStoreRecords(history: HistoryData, stored: readonly StoredLease[]): Violation[] {
  const violations: Violation[] = [];
  const byRequest = groupBy(stored, (l) => `${l.client.id}/${l.requestId}`);
  for (const [request, leases] of byRequest) {
    if (leases.length > 1) {
      violations.push({
        rule: 'duplicate-lease',
        message: `the store holds ${leases.length} leases for request ${request}: ${leases.map((l) => `${l.id} (${l.state})`).join(', ')}`,
        ops: history.ops.filter((op) => op.kind === 'checkout' && `${op.client}/${op.requestId}` === request),
      });
    }
  }
  const byId = new Map(stored.map((l) => [l.id, l]));
  const checkedIn = new Set(history.ops.filter((op) => op.kind === 'checkin').map((op) => op.leaseId));
  const acknowledged = groupBy(
    history.ops.filter((op) => op.outcome === 'ok' && op.kind !== 'checkin' && op.leaseId !== undefined),
    (op) => op.leaseId ?? '',
  );
  for (const [leaseId, ops] of acknowledged) {
    const record = byId.get(leaseId);
    const grant = ops.find((op) => op.kind === 'checkout');
    if (!record) {
      violations.push({ rule: 'lease-lost', message: `acknowledged lease ${leaseId} has no record`, ops });
      continue;
    }
    if (grant && (`${record.license}/${record.feature}` !== grant.pool || record.slot !== grant.slot)) {
      violations.push({
        rule: 'malformed',
        message: `lease ${leaseId} recorded in ${record.license}/${record.feature} slot ${record.slot}, granted in ${grant.pool} slot ${grant.slot}`,
        ops: [grant],
      });
    }
    const best = maxBy(ops, (op) => op.reservedUntil ?? 0);
    const recorded = Date.parse(record.reservedUntil);
    if (best?.reservedUntil !== undefined && !(recorded >= best.reservedUntil)) {
      violations.push({
        rule: 'lease-lost',
        message: `lease ${leaseId}: the store reserves it until ${recorded}, but a ${best.kind} on ${best.node} acknowledged ${best.reservedUntil}`,
        ops: [best],
      });
    }
  }
  for (const record of stored) {
    if (record.state === 'released' && !checkedIn.has(record.id)) {
      violations.push({
        rule: 'lease-lost',
        message: `lease ${record.id} is recorded released, but no check-in of it was ever sent`,
        ops: acknowledged.get(record.id) ?? [],
      });
    }
  }
  return violations;
}
