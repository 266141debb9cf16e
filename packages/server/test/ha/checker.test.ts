import { describe, expect, it } from 'vitest';
import { checkHistory, checkStoreRecords, type Rule, type StoredLease } from './checker.js';
import type { Fault, HistoryData, Op } from './history.js';
import { formatReport, opCounts, outageByFault, outageByKind, outageWindows } from './summary.js';

/**
 * The checker on hand-made histories: one clean history full of near misses that a correct server
 * produces, and one history per property that violates it. Times are small integers (ms).
 */
const POOL = 'lic/solver';
const POOLS = { [POOL]: 2 };

let seq = 0;
type Base = Omit<Op, 'seq' | 'client' | 'node' | 'pool'> & Partial<Pick<Op, 'client' | 'node' | 'pool'>>;
const op = (o: Base): Op => ({ seq: seq++, client: 'c1', node: 'node-1', pool: POOL, ...o });

const grant = (
  leaseId: string,
  call: number,
  ret: number,
  expiresAt: number,
  o: { slot?: number; requestId?: string; client?: string; status?: number } = {},
): Op =>
  op({
    kind: 'checkout',
    client: o.client ?? 'c1',
    requestId: o.requestId ?? `req-${leaseId}`,
    leaseRequestId: o.requestId ?? `req-${leaseId}`,
    leaseId,
    answeredId: leaseId,
    leasePool: POOL,
    call,
    ret,
    outcome: 'ok',
    status: o.status ?? 201,
    expiresAt,
    reservedUntil: expiresAt,
    ...(o.slot !== undefined ? { slot: o.slot } : {}),
    state: 'active',
  });
const renew = (leaseId: string, call: number, ret: number, expiresAt: number): Op =>
  op({
    kind: 'renew',
    leaseId,
    answeredId: leaseId,
    call,
    ret,
    outcome: 'ok',
    status: 200,
    expiresAt,
    reservedUntil: expiresAt,
    state: 'active',
  });
const refused = (kind: 'renew' | 'checkin', leaseId: string, call: number, ret: number, code: string): Op =>
  op({
    kind,
    leaseId,
    call,
    ret,
    outcome: 'fail',
    status: code === 'STORE_UNAVAILABLE' ? 503 : code === 'LEASE_NOT_FOUND' ? 404 : 410,
    code,
    retryable: code === 'STORE_UNAVAILABLE',
  });
const checkin = (leaseId: string, call: number, ret: number, state = 'released'): Op =>
  op({ kind: 'checkin', leaseId, answeredId: leaseId, call, ret, outcome: 'ok', status: 200, state });
const lost = (kind: Op['kind'], call: number, ret: number, o: Partial<Op> = {}): Op =>
  op({ kind, call, ret, outcome: 'unknown', error: 'timeout', ...o });

const history = (...ops: Op[]): HistoryData => ({ ops, faults: [] });
const rules = (h: HistoryData, pools: Record<string, number> = POOLS): Rule[] =>
  checkHistory(h, pools).violations.map((v) => v.rule);

describe('checkHistory', () => {
  it('passes a clean history full of near misses', () => {
    const h = history(
      // A: granted, renewed, checked in; C takes a seat answered after A's check-in was *sent*, before
      // the check-in's own answer came back: fine, the check-in may have committed at once.
      grant('A', 0, 10, 6000, { slot: 0 }),
      renew('A', 2000, 2010, 8000),
      refused('renew', 'A', 4000, 4010, 'STORE_UNAVAILABLE'),
      renew('A', 4200, 4210, 10_200),
      checkin('A', 5000, 5500),
      grant('C', 5010, 5020, 11_010, { slot: 0 }),
      // B: abandoned after its grant; D gets the same slot answered after B's known reservation.
      grant('B', 100, 110, 6100, { slot: 1 }),
      grant('D', 6000, 6150, 12_000, { slot: 1 }),
      // D's renewal fails during an outage; by the time it gets through the lease is past its expiry.
      lost('renew', 10_000, 12_000, { leaseId: 'D' }),
      refused('renew', 'D', 12_100, 12_110, 'LEASE_EXPIRED'),
      // C's renewal is decided somewhere in [call, return]; its expiry falls inside: not provably alive.
      refused('renew', 'C', 11_000, 11_050, 'LEASE_EXPIRED'),
      // E: a checkout whose first answer was lost, retried with the same request id on another node.
      lost('checkout', 12_000, 14_000, { requestId: 'req-E', client: 'c2' }),
      grant('E', 14_100, 14_110, 20_000, { requestId: 'req-E', client: 'c2', status: 200 }),
      // SEATS_EXHAUSTED answers are definite and fine.
      op({
        kind: 'checkout',
        requestId: 'req-x',
        call: 14_200,
        ret: 14_210,
        outcome: 'fail',
        status: 409,
        code: 'SEATS_EXHAUSTED',
        retryable: false,
      }),
      checkin('E', 15_000, 15_010),
      // A second check-in of an already checked-in lease answers its final state.
      checkin('E', 15_100, 15_110),
    );
    const result = checkHistory(h, POOLS);
    expect(result.violations).toEqual([]);
    expect(result.peakHeld[POOL]).toBe(2);
    expect(result.leases).toBe(5);
  });

  it('reports more leases definitely holding seats than licensed', () => {
    // Slots 0, 1, 2 on a 2-seat pool: no slot is shared, the count is still over.
    const h = history(
      grant('A', 0, 10, 6000, { slot: 0 }),
      grant('B', 0, 20, 6000, { slot: 1 }),
      grant('C', 30, 40, 6000, { slot: 2 }),
    );
    const result = checkHistory(h, POOLS);
    expect(result.violations.map((v) => v.rule)).toEqual(['oversubscribed']);
    expect(result.violations[0]?.message).toContain('3 leases definitely held lic/solver (2 seats)');
    expect(result.peakHeld[POOL]).toBe(3);
  });

  it('counts a lease until its latest renewal reservation, and until a check-in is sent', () => {
    const base = [grant('A', 0, 10, 10_000, { slot: 0 }), grant('B', 0, 10, 6000, { slot: 1 })];
    // B was renewed to 9000 (answer at 2010): a third lease answered at 7000 overlaps it.
    expect(rules(history(...base, renew('B', 2000, 2010, 9000), grant('C', 6990, 7000, 13_000)))).toEqual([
      'oversubscribed',
    ]);
    // The same third lease after B's reservation ran out: fine.
    expect(rules(history(...base, renew('B', 2000, 2010, 9000), grant('C', 8990, 9000, 15_000)))).toEqual([]);
    // A check-in whose answer was lost still ends the hold at its call.
    expect(
      rules(history(...base, lost('checkin', 3000, 5000, { leaseId: 'A' }), grant('C', 3000, 3010, 9000))),
    ).toEqual([]);
    // A third lease answered before any check-in was sent: over.
    expect(rules(history(...base, checkin('A', 3000, 3010), grant('C', 2000, 2990, 9000)))).toEqual([
      'oversubscribed',
    ]);
  });

  it('reports two leases definitely holding one slot', () => {
    const h = history(grant('A', 0, 10, 6000, { slot: 3 }), grant('B', 5000, 5010, 11_000, { slot: 3 }));
    const result = checkHistory(h, { [POOL]: 5 });
    expect(result.violations.map((v) => v.rule)).toEqual(['slot-shared']);
    expect(result.violations[0]?.message).toContain(
      'lease B granted (answer at 5010) while A still definitely held it',
    );
  });

  it('reports an acknowledged lease lost while its client kept renewing', () => {
    const alive = [grant('A', 0, 10, 6000, { slot: 0 }), renew('A', 2000, 2010, 8000)];
    // Renewed until 8000; refused as expired at 4000..4010.
    const expired = checkHistory(
      history(...alive, refused('renew', 'A', 4000, 4010, 'LEASE_EXPIRED')),
      POOLS,
    );
    expect(expired.violations.map((v) => v.rule)).toEqual(['lease-lost']);
    expect(expired.violations[0]?.message).toContain('renew answered LEASE_EXPIRED at [4000,4010] on node-1');
    expect(expired.violations[0]?.message).toContain('3990 ms later');
    expect(rules(history(...alive, refused('renew', 'A', 4000, 4010, 'LEASE_NOT_FOUND')))).toEqual([
      'lease-lost',
    ]);
    // A check-in that finds the lease already ended as expired before its known expiry.
    expect(rules(history(...alive, checkin('A', 4000, 4010, 'expired')))).toEqual(['lease-lost']);
    // LEASE_RELEASED without any check-in sent: lost whatever the times.
    expect(rules(history(...alive, refused('renew', 'A', 9000, 9010, 'LEASE_RELEASED')))).toEqual([
      'lease-lost',
    ]);
    // ...but fine after a check-in was sent, and a 503 is always fine.
    expect(
      rules(history(...alive, checkin('A', 3000, 3010), refused('renew', 'A', 4000, 4010, 'LEASE_RELEASED'))),
    ).toEqual([]);
    expect(rules(history(...alive, refused('renew', 'A', 4000, 4010, 'STORE_UNAVAILABLE')))).toEqual([]);
  });

  it('allows a clock tolerance, and no more: a seat freed or a lease expired early by a stepped clock', () => {
    const base = [grant('A', 0, 10, 10_000, { slot: 0 }), grant('B', 0, 10, 6000, { slot: 1 })];
    // C answered 1500 ms before B's reservation ran out: over with no tolerance, fine within 2000 ms.
    const early = history(...base, grant('C', 4490, 4500, 10_500, { slot: 1 }));
    expect(checkHistory(early, POOLS).violations.map((v) => v.rule)).toEqual([
      'oversubscribed',
      'slot-shared',
    ]);
    expect(checkHistory(early, POOLS, 2000).violations).toEqual([]);
    // 2500 ms early is more than the tolerance.
    const tooEarly = history(...base, grant('C', 3490, 3500, 9500, { slot: 1 }));
    expect(checkHistory(tooEarly, POOLS, 2000).violations.map((v) => v.rule)).toEqual([
      'oversubscribed',
      'slot-shared',
    ]);
    // A renewal refused as expired 1000 ms before the known expiry: lost with no tolerance only.
    const alive = [grant('A', 0, 10, 6000, { slot: 0 }), renew('A', 2000, 2010, 8000)];
    const refusal = history(...alive, refused('renew', 'A', 6990, 7000, 'LEASE_EXPIRED'));
    expect(checkHistory(refusal, POOLS).violations.map((v) => v.rule)).toEqual(['lease-lost']);
    expect(checkHistory(refusal, POOLS, 2000).violations).toEqual([]);
    const tooSoon = history(...alive, refused('renew', 'A', 4990, 5000, 'LEASE_EXPIRED'));
    expect(checkHistory(tooSoon, POOLS, 2000).violations.map((v) => v.rule)).toEqual(['lease-lost']);
    // With the clock margin: seats judged exactly, a lease found expired early still within its own bound.
    expect(checkHistory(early, POOLS, 0, 2000).violations.map((v) => v.rule)).toEqual([
      'oversubscribed',
      'slot-shared',
    ]);
    expect(checkHistory(refusal, POOLS, 0, 2000).violations).toEqual([]);
    expect(checkHistory(tooSoon, POOLS, 0, 2000).violations.map((v) => v.rule)).toEqual(['lease-lost']);
  });

  it('reports a request id that yields two leases, or a lease answering two request ids', () => {
    const two = checkHistory(
      history(
        grant('A', 0, 10, 6000, { slot: 0, requestId: 'r1' }),
        grant('B', 20, 30, 6000, { slot: 1, requestId: 'r1', status: 200 }),
      ),
      POOLS,
    );
    expect(two.violations.map((v) => v.rule)).toEqual(['duplicate-lease']);
    expect(two.violations[0]?.message).toBe('request c1/r1 yielded 2 leases: A, B');

    const shared = checkHistory(
      history(
        grant('A', 0, 10, 6000, { slot: 0, requestId: 'r1' }),
        grant('A', 20, 30, 6000, { slot: 0, requestId: 'r2' }),
      ),
      POOLS,
    );
    expect(shared.violations.map((v) => v.rule)).toContain('duplicate-lease');
    expect(shared.violations.map((v) => v.message)).toContain('lease A answered 2 requests: c1/r1, c1/r2');
  });

  it('reports answers it cannot check', () => {
    expect(
      rules(history(op({ kind: 'checkout', requestId: 'r', call: 0, ret: 1, outcome: 'ok', status: 201 }))),
    ).toEqual(['malformed']);
    expect(rules(history(grant('A', 0, 10, 6000)), {})).toEqual(['malformed']);
    expect(
      rules(history(grant('A', 0, 10, 6000), op({ ...renew('A', 20, 30, 7000), answeredId: 'B' }))),
    ).toEqual(['malformed']);
  });
});

describe('checkStoreRecords', () => {
  const record = (id: string, o: Partial<StoredLease> = {}): StoredLease => ({
    id,
    license: 'lic',
    feature: 'solver',
    slot: 0,
    client: { id: 'c1' },
    requestId: `req-${id}`,
    state: 'expired',
    reservedUntil: new Date(8000).toISOString(),
    ...o,
  });
  const seen = history(
    grant('A', 0, 10, 6000, { slot: 0 }),
    renew('A', 2000, 2010, 8000),
    grant('B', 0, 10, 6000, { slot: 1 }),
    checkin('B', 3000, 3010),
  );
  const clean = [
    record('A'),
    record('B', { slot: 1, state: 'released', reservedUntil: new Date(6000).toISOString() }),
  ];
  const storeRules = (stored: StoredLease[]) => checkStoreRecords(seen, stored).map((v) => v.rule);

  it('passes records that match what the clients saw', () => {
    // A ghost lease no client saw (a checkout whose answer was lost) is fine if it is alone for its request.
    expect(checkStoreRecords(seen, [...clean, record('G', { slot: 1, requestId: 'req-G' })])).toEqual([]);
  });

  it('reports a second lease for one request id that no client saw', () => {
    const violations = checkStoreRecords(seen, [...clean, record('A2', { requestId: 'req-A', slot: 1 })]);
    expect(violations.map((v) => v.message)).toEqual([
      'the store holds 2 leases for request c1/req-A: A (expired), A2 (expired)',
    ]);
  });

  it('reports a forgotten lease, a forgotten renewal and a release nobody asked for', () => {
    expect(storeRules([clean[1] as StoredLease])).toEqual(['lease-lost']);
    expect(
      storeRules([record('A', { reservedUntil: new Date(6000).toISOString() }), clean[1] as StoredLease]),
    ).toEqual(['lease-lost']);
    expect(storeRules([record('A', { state: 'released' }), clean[1] as StoredLease])).toEqual(['lease-lost']);
    expect(storeRules([record('A', { slot: 1 }), clean[1] as StoredLease])).toEqual(['malformed']);
  });
});

describe('outage summary', () => {
  const fault: Fault = { kind: 'node-kill', target: 'node-2', start: 1000, end: 2000, healed: 2500 };
  const h: HistoryData = {
    faults: [fault],
    ops: [
      grant('A', 0, 10, 6000, { slot: 0 }),
      lost('renew', 1100, 3100, { leaseId: 'A', node: 'node-2' }),
      refused('renew', 'A', 3200, 3210, 'STORE_UNAVAILABLE'),
      renew('A', 3400, 3420, 9400),
      // Another client: a 409 is a definite answer, not an outage.
      op({
        kind: 'checkout',
        client: 'c2',
        requestId: 'q',
        call: 1200,
        ret: 1210,
        outcome: 'fail',
        status: 409,
        code: 'SEATS_EXHAUSTED',
        retryable: false,
      }),
      // And an outage long after any fault.
      lost('checkout', 20_000, 22_000, { client: 'c2', requestId: 'q2' }),
    ],
  };

  it('finds each client run of calls without a usable answer and attributes it to a fault', () => {
    const windows = outageWindows(h);
    expect(windows).toEqual([
      { client: 'c1', from: 1100, to: 3210, calls: 2, fault },
      { client: 'c2', from: 20_000, to: 22_000, calls: 1, fault: undefined },
    ]);
    const rows = outageByKind(h);
    expect(rows.find((r) => r.kind === 'node-kill')).toMatchObject({
      injected: 1,
      windows: 1,
      longestMs: 2110,
      longestClient: 'c1',
    });
    expect(rows.find((r) => r.kind === 'no fault')).toMatchObject({ windows: 1, longestMs: 2000 });
    expect(rows.find((r) => r.kind === 'etcd-pause')).toMatchObject({
      injected: 0,
      windows: 0,
      longestMs: 0,
    });
    expect(outageByFault(h)).toEqual([{ fault, windows: 1, longestMs: 2110 }]);
  });

  it('counts operations by outcome and code', () => {
    expect(opCounts(h)).toEqual([
      { kind: 'checkout', total: 3, ok: 1, unknown: 1, failed: { SEATS_EXHAUSTED: 1 } },
      { kind: 'renew', total: 3, ok: 1, unknown: 1, failed: { STORE_UNAVAILABLE: 1 } },
      { kind: 'checkin', total: 0, ok: 0, unknown: 0, failed: {} },
    ]);
    const report = formatReport(h, 0);
    expect(report).toContain('longest client outage ms');
    expect(report).toMatch(/node-kill\s+node-2\s+1\.0\s+1\.0\s+1\.5\s+1\s+2110/);
    expect(report.split('\n').find((l) => l.startsWith('node-kill'))).toMatch(
      /node-kill\s+1\s+1\s+2110\s+c1\s+node-2/,
    );
  });
});
