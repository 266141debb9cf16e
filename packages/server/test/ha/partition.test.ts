import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory, checkStoreRecords, type Violation } from './checker.js';
import {
  type CommonResult,
  FEATURE,
  type LeaderResult,
  LICENSE_ID,
  type NodeResult,
  type ScenarioResult,
} from './partition/result.js';
import { killScenarios, RUN_TIMEOUT_MS, runScenario } from './partition/runner.js';

// Network partitions between real processes: a 3-member etcd cluster and 3 Leasehold nodes, each on its own
// loopback address, inside a network (and mount) namespace that each scenario run creates for itself with
// `unshare -n -m`; nftables drops the traffic between chosen addresses. The host's network is never
// touched. partition/main.ts (compiled by `tsc -b`) does the work: it runs the fault run's clients
// (workload.ts) pinned one to a node, records their history in history.ts's format and prints its
// measurements; this file has checker.ts judge the history and asserts on both.
// Needs root on Linux with util-linux (unshare, setpriv), iproute2 and nftables (.ci/run installs them);
// without them every test here fails with the reason, it does not skip.

/** DESIGN.md invariant 8 and docs/ha.md: a node without quorum answers 503 within 2 s, never hangs. */
const ANSWER_BOUND_MS = 2000;
const POOL = `${LICENSE_ID}/${FEATURE}`;

/** What checker.ts makes of a run's history and of the store's records read after it. */
interface Judged {
  /** Most leases that definitely held a seat of the pool at one instant (checker rule 1). */
  readonly peakHeld: number;
  /** Leases granted to a client that saw the grant. */
  readonly leases: number;
  readonly storeRead: boolean;
  readonly violations: readonly Violation[];
}

afterAll(() => {
  killScenarios();
});

/** The invariants every scenario must keep, whatever the partition did to availability. */
function expectInvariants(r: CommonResult, j: Judged): void {
  expect(r.droppedPackets, 'the partition rules dropped nothing: the cut was not real').toBeGreaterThan(0);
  expect(r.invariants.grants, 'the workload granted no seats at all').toBeGreaterThan(0);
  // 1. No oversubscription: as clients saw it (checker.ts over the history) and as the store listed it.
  expect(j.peakHeld).toBeLessThanOrEqual(r.seats);
  expect(r.invariants.seatSamples).toBeGreaterThan(0);
  expect(r.invariants.maxSeatsHeldSampled).toBeLessThanOrEqual(r.seats);
  expect(r.server.error).toBeUndefined();
  expect(j.storeRead, 'the store listed its leases after the run').toBe(true);
  expect(r.server.maxSlot).toBeLessThan(r.seats);
  // 2. Idempotent checkout: one lease per requestId, however often it was retried and through what (in the
  // history and in the store's records); and no seat shared, no acknowledged lease lost (checker.ts).
  expect(j.violations).toEqual([]);
  // Failures are honest: a retryable 503 STORE_UNAVAILABLE, never a 500 or a dropped connection.
  for (const [node, phases] of Object.entries(r.ops)) {
    for (const phase of ['before', 'cut', 'after'] as const) {
      for (const failure of Object.keys(phases[phase].failures)) {
        expect(`${node} ${phase}: ${failure}`).toMatch(/: 503 STORE_UNAVAILABLE$/);
      }
    }
  }
}

/**
 * Runs `scenario` once before the tests of the enclosing describe, has checker.ts judge its history, and
 * returns getters for both. When it cannot run (preflight) or fails, every test fails with that error
 * rather than being skipped.
 */
function scenarioResult<T extends ScenarioResult>(
  scenario: T['scenario'],
  report: (r: T, j: Judged) => void,
): { result: () => T; judged: () => Judged } {
  let run: { result: T; judged: Judged } | undefined;
  let error: unknown;
  beforeAll(async () => {
    try {
      const { result, ops, stored } = await runScenario<T>(scenario);
      const history = { ops, faults: [] };
      const checked = checkHistory(history, { [POOL]: result.seats });
      const judged: Judged = {
        peakHeld: checked.peakHeld[POOL] ?? 0,
        leases: checked.leases,
        storeRead: stored !== undefined,
        violations: [...checked.violations, ...checkStoreRecords(history, stored ?? [])],
      };
      run = { result, judged };
      report(result, judged);
    } catch (err) {
      error = err;
    }
  }, RUN_TIMEOUT_MS + 20_000);
  const get = () => {
    if (error !== undefined) throw error;
    if (run === undefined) throw new Error(`the '${scenario}' scenario did not run`);
    return run;
  };
  return { result: () => get().result, judged: () => get().judged };
}

/** checker.ts's verdict in the printed figures: counts, and the first few violations in full. */
const verdict = (r: CommonResult, j: Judged) => ({
  ...r.invariants,
  seed: r.seed,
  peakHeldByClients: j.peakHeld,
  leasesSeenGranted: j.leases,
  leasesRecorded: r.server.leasesRecorded,
  violations: j.violations.length,
  firstViolations: j.violations.slice(0, 3).map((v) => `${v.rule}: ${v.message}`),
});

function summary(title: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  process.stderr.write(`${title}\n${lines.join('\n')}\n`);
}

describe('partition: the etcd leader isolated from the other members and from every node', () => {
  const { result, judged } = scenarioResult<LeaderResult>('leader', (r, j) => {
    summary('partition/leader — measured', {
      oldLeader: r.oldLeader,
      newLeader: r.newLeader,
      isolatedView: r.isolatedView,
      healthyAfterHeal: r.healthyAfterHeal,
      cutMs: r.cutMs,
      droppedPackets: r.droppedPackets,
      ops: r.ops,
      readyz: r.readyz,
      timeline: r.timeline,
      afterSettle: r.afterSettle,
      outages: r.outages,
      invariants: verdict(r, j),
    });
  });

  it('the majority elects a new leader, the isolated one steps down, and rejoins after the heal', () => {
    const r = result();
    expect(r.newLeader, 'no new leader within 8 s of the cut').toBeDefined();
    expect(r.newLeader?.name).not.toBe(r.oldLeader);
    expect(r.newLeader?.ms).toBeLessThan(3000);
    expect(r.isolatedView.error).toBeUndefined();
    expect(r.isolatedView.stillClaimsLeadership).toBe(false);
    expect(r.healthyAfterHeal.error).toBeUndefined();
    expect(r.healthyAfterHeal.ms).toBeGreaterThanOrEqual(0);
    expect(r.oldLeaderAfterHeal.followsLeader).toBe(true);
  });

  it('never oversubscribes and never grants two leases for one requestId', () => {
    const r = result();
    expectInvariants(r, judged());
  });

  it('keeps checking out and renewing through every node once the new leader is in (bounded outage)', () => {
    const r = result();
    for (const [node, s] of Object.entries(r.afterSettle)) {
      expect(s.sent, `${node} sent nothing after the settle time`).toBeGreaterThan(0);
      expect(
        { node, failed: s.failed, firstFailures: s.firstFailures, timeline: r.timeline[node] },
        `${node}: calls sent more than ${r.settleMs} ms after the cut still failed`,
      ).toMatchObject({ failed: 0 });
      expect(s.maxMs, `${node}: an answer took longer than ${ANSWER_BOUND_MS} ms`).toBeLessThanOrEqual(
        ANSWER_BOUND_MS,
      );
    }
  });

  it('keeps /readyz at 200 on nodes that still reach a quorum (honest readiness)', () => {
    const r = result();
    for (const [node, s] of Object.entries(r.afterSettle)) {
      expect(
        { node, readyzNot200: s.readyzNot200, answers: r.readyz[node]?.cut.answers },
        `${node} said it had no store while a quorum was reachable`,
      ).toMatchObject({ readyzNot200: 0 });
    }
  });
});

describe('partition: one node cut off from all etcd members', () => {
  const { result, judged } = scenarioResult<NodeResult>('node', (r, j) => {
    summary('partition/node — measured', {
      victim: r.victim,
      seatsHeldAtCut: r.seatsHeldAtCut,
      victimCalls: r.victimCalls,
      victimReadyz: r.victimReadyz,
      victimMembershipDuringCut: r.victimMembershipDuringCut,
      victimRejoinedMs: r.victimRejoinedMs,
      healToFirstAnswerMs: r.healToFirstAnswerMs,
      cutMs: r.cutMs,
      droppedPackets: r.droppedPackets,
      ops: r.ops,
      readyz: r.readyz,
      timeline: r.timeline,
      invariants: verdict(r, j),
    });
  });

  it('the cut-off node grants nothing: checkouts and renewals answer 503 STORE_UNAVAILABLE within 2 s', () => {
    const r = result();
    const v = r.victimCalls;
    expect(v.byKind.checkout ?? 0, 'no checkout went through the cut-off node').toBeGreaterThan(0);
    expect(v.byKind.renew ?? 0, 'no renewal went through the cut-off node').toBeGreaterThan(0);
    expect(v.succeeded).toEqual([]);
    expect(r.ops[r.victim]?.grantsDuringCut).toBe(0);
    for (const answer of Object.keys(v.answers)) {
      // Check-ins too, when one happened to go through it during the cut.
      expect(answer).toMatch(/^(checkout|renew|checkin) 503 STORE_UNAVAILABLE retryable=true$/);
    }
    expect(v.maxAnswerMs).toBeLessThanOrEqual(ANSWER_BOUND_MS);
  });

  it('/readyz on the cut-off node fails with 503 within 2 s', () => {
    const r = result();
    const ready = r.victimReadyz;
    expect(ready.probesDuringCut).toBeGreaterThan(0);
    expect(Object.keys(ready.answers)).toEqual(['503 STORE_UNAVAILABLE']);
    expect(ready.maxAnswerMs).toBeLessThanOrEqual(ANSWER_BOUND_MS);
    // The first probe after the cut starts within one poll interval (250 ms) and answers within the bound.
    expect(ready.cutToFirst503Ms).toBeGreaterThanOrEqual(0);
    expect(ready.cutToFirst503Ms).toBeLessThanOrEqual(ANSWER_BOUND_MS + 500);
    // Its heartbeat stopped: the other nodes no longer count it as a live member.
    expect(r.victimMembershipDuringCut.error).toBeUndefined();
    expect(r.victimMembershipDuringCut.listed === true && r.victimMembershipDuringCut.healthy === true).toBe(
      false,
    );
  });

  it('the other two nodes keep granting and renewing, and stay ready', () => {
    const r = result();
    const others = Object.keys(r.ops).filter((n) => n !== r.victim);
    expect(others).toHaveLength(2);
    for (const node of others) {
      expect({ node, failures: r.ops[node]?.cut.failures }).toEqual({ node, failures: {} });
      expect(r.ops[node]?.grantsDuringCut, `${node} granted no seat during the cut`).toBeGreaterThan(0);
      expect(Object.keys(r.readyz[node]?.cut.answers ?? {})).toEqual(['200']);
    }
  });

  it('after the heal the node serves again by itself, without a restart', () => {
    const r = result();
    expect(r.restartedNodes).toEqual([]);
    expect(r.victimReadyz.healToReadyMs).toBeGreaterThanOrEqual(0);
    expect(r.victimReadyz.healToReadyMs).toBeLessThanOrEqual(10_000);
    expect(r.healToFirstAnswerMs).toBeGreaterThanOrEqual(0);
    expect(r.healToFirstAnswerMs).toBeLessThanOrEqual(10_000);
    expect(r.victimRejoinedMs).toBeGreaterThanOrEqual(0);
  });

  it('never oversubscribes and never grants two leases for one requestId', () => {
    const r = result();
    expectInvariants(r, judged());
  });
});
