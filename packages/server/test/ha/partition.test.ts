import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Network partitions between real processes: a 3-member etcd cluster and 3 Leasehold nodes, each on its own
// loopback address, inside a network (and mount) namespace that each scenario run creates for itself with
// `unshare -n -m`; nftables drops the traffic between chosen addresses. The host's network is never
// touched. partition-scenario.mjs does the work and prints its measurements; this file asserts on them.
// Needs root on Linux with util-linux (unshare, setpriv), iproute2 and nftables (.ci/run installs them);
// without them every test here fails with the reason, it does not skip.

const SCENARIO = fileURLToPath(new URL('./partition-scenario.mjs', import.meta.url));
/** One scenario run, start to result; measured 28-48 s on 2 cores. */
const RUN_TIMEOUT_MS = 180_000;
/** DESIGN.md invariant 8 and docs/ha.md: a node without quorum answers 503 within 2 s, never hangs. */
const ANSWER_BOUND_MS = 2000;

interface OpsStats {
  count: number;
  ok: number;
  seatsExhausted: number;
  leaseExpired: number;
  failures: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

interface CommonResult {
  seats: number;
  cutMs: number;
  droppedPackets: number;
  ops: Record<string, { before: OpsStats; cut: OpsStats; after: OpsStats; grantsDuringCut: number }>;
  readyz: Record<
    string,
    Record<'before' | 'cut' | 'after', { answers: Record<string, number>; maxMs: number }>
  >;
  timeline: Record<string, string>;
  settleMs: number;
  afterSettle: Record<
    string,
    { sent: number; failed: number; firstFailures: unknown[]; maxMs: number; readyzNot200: number }
  >;
  outages: Record<string, { longestMs: number; streaks: number }>;
  invariants: {
    maxSeatsHeldByClients: number;
    maxSeatsHeldSampled: number;
    seatSamples: number;
    grants: number;
    duplicateRequestIdsClientSide: unknown[];
    duplicateRequestIdsServerSide: unknown[];
  };
  server: { leasesRecorded: number; maxSlot: number; error?: string };
}

interface LeaderResult extends CommonResult {
  oldLeader: string;
  newLeader?: { name: string; ms: number };
  isolatedView: { stillClaimsLeadership?: boolean; error?: string };
  healthyAfterHeal: { ms: number; leader?: string; error?: string };
  oldLeaderAfterHeal: { followsLeader?: boolean; error?: string };
}

interface NodeResult extends CommonResult {
  victim: string;
  seatsHeldAtCut: number;
  victimCalls: {
    sentDuringCut: number;
    byKind: Record<string, number>;
    succeeded: unknown[];
    answers: Record<string, number>;
    maxAnswerMs: number;
  };
  victimReadyz: {
    probesDuringCut: number;
    answers: Record<string, number>;
    maxAnswerMs: number;
    cutToFirst503Ms: number;
    healToReadyMs: number;
  };
  victimMembershipDuringCut: { listed?: boolean; healthy?: boolean; error?: string };
  victimRejoinedMs: number;
  healToFirstAnswerMs: number;
  restartedNodes: string[];
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

/** Throws, naming everything missing, when this machine cannot run the scenarios. */
function preflight(): void {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`this is ${process.platform}, not Linux`);
  if (process.getuid?.() !== 0) {
    problems.push('not running as root (unshare -n, ip rule, nft and setpriv --reuid need it)');
  }
  const tools: [string, string][] = [
    ['unshare', 'util-linux'],
    ['setpriv', 'util-linux'],
    ['mount', 'mount'],
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ];
  for (const [command, pkg] of tools) {
    if (!onPath(command)) problems.push(`\`${command}\` is not installed (Debian package ${pkg})`);
  }
  if (problems.length === 0) {
    const probe = spawnSync('unshare', ['-n', '-m', 'true'], { encoding: 'utf8', timeout: 5000 });
    if (probe.status !== 0)
      problems.push(`\`unshare -n -m true\` failed: ${probe.stderr.trim() || probe.status}`);
  }
  if (problems.length > 0) {
    throw new Error(
      `the partition tests cannot run here: ${problems.join('; ')}. They need root on Linux with util-linux, ` +
        'iproute2 and nftables (.ci/run installs the packages on Debian).',
    );
  }
}

const running = new Set<ChildProcess>();

/** Kills a scenario and everything in its process group (it leads its own: spawned detached). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Idle share of all CPUs over `ms`, from /proc/stat. */
async function idleShare(ms: number): Promise<number> {
  const read = () => {
    const cpu =
      readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    return { total: cpu.reduce((a, b) => a + b, 0), idle: (cpu[3] ?? 0) + (cpu[4] ?? 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total === a.total ? 1 : (b.idle - a.idle) / (b.total - a.total);
}

/**
 * The 2 s answer bound is a claim about a node whose machine is not starved. Run in the full suite right
 * after the fault run, one scenario once measured 2.24 s while the previous file's processes were still
 * winding down (alone: 1.57 s). Wait (bounded) until the machine is mostly idle before cutting anything.
 */
async function waitForQuietMachine(): Promise<void> {
  const deadline = Date.now() + 20_000;
  let idle = await idleShare(500);
  while (idle < 0.7 && Date.now() < deadline) idle = await idleShare(500);
  if (idle < 0.7) console.warn(`[partition] machine still busy (idle ${Math.round(idle * 100)}%)`);
}

/** Runs one scenario in a namespace of its own and returns its parsed PARTITION_RESULT line. */
async function runScenario<T>(scenario: 'leader' | 'node'): Promise<T> {
  preflight();
  await waitForQuietMachine();
  const dir = mkdtempSync(join(tmpdir(), `leasehold-partition-${scenario}-`));
  const child = spawn(
    'unshare',
    [
      '-n',
      '-m',
      '--propagation',
      'private',
      process.execPath,
      SCENARIO,
      '--scenario',
      scenario,
      '--dir',
      dir,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, RUN_TIMEOUT_MS);
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        stderr += `\nspawn failed: ${err.message}`;
        resolve({ code: null, signal: null });
      });
    });
    const line = stdout.split('\n').find((l) => l.startsWith('PARTITION_RESULT '));
    if (exit.code !== 0 || !line) {
      const how = timedOut
        ? `timed out after ${RUN_TIMEOUT_MS} ms`
        : `exited with ${exit.code ?? exit.signal}`;
      throw new Error(`partition scenario '${scenario}' ${how}; its stderr (tail):\n${stderr.slice(-6000)}`);
    }
    // The progress lines are the measurements' context; keep them in the test log.
    const progress = stderr.split('\n').filter((l) => l.startsWith('[partition'));
    process.stderr.write(`${progress.join('\n')}\n`);
    return JSON.parse(line.slice('PARTITION_RESULT '.length)) as T;
  } finally {
    clearTimeout(timer);
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

afterAll(() => {
  for (const child of running) killGroup(child);
});

/** The invariants every scenario must keep, whatever the partition did to availability. */
function expectInvariants(r: CommonResult): void {
  expect(r.droppedPackets, 'the partition rules dropped nothing: the cut was not real').toBeGreaterThan(0);
  expect(r.invariants.grants, 'the workload granted no seats at all').toBeGreaterThan(0);
  // 1. No oversubscription: as clients saw it (token lifetimes) and as the store listed it.
  expect(r.invariants.maxSeatsHeldByClients).toBeLessThanOrEqual(r.seats);
  expect(r.invariants.seatSamples).toBeGreaterThan(0);
  expect(r.invariants.maxSeatsHeldSampled).toBeLessThanOrEqual(r.seats);
  expect(r.server.error).toBeUndefined();
  expect(r.server.maxSlot).toBeLessThan(r.seats);
  // 2. Idempotent checkout: one lease per requestId, however often it was retried and through what.
  expect(r.invariants.duplicateRequestIdsClientSide).toEqual([]);
  expect(r.invariants.duplicateRequestIdsServerSide).toEqual([]);
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
 * Runs `scenario` once before the tests of the enclosing describe and returns a getter for its result.
 * When it cannot run (preflight) or fails, every test fails with that error rather than being skipped.
 */
function scenarioResult<T>(scenario: 'leader' | 'node', report: (r: T) => void): () => T {
  let result: T | undefined;
  let error: unknown;
  beforeAll(async () => {
    try {
      result = await runScenario<T>(scenario);
      report(result);
    } catch (err) {
      error = err;
    }
  }, RUN_TIMEOUT_MS + 20_000);
  return () => {
    if (error !== undefined) throw error;
    if (result === undefined) throw new Error(`the '${scenario}' scenario did not run`);
    return result;
  };
}

function summary(title: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  process.stderr.write(`${title}\n${lines.join('\n')}\n`);
}

describe('partition: the etcd leader isolated from the other members and from every node', () => {
  const result = scenarioResult<LeaderResult>('leader', (r) => {
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
      invariants: r.invariants,
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
    expectInvariants(r);
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
  const result = scenarioResult<NodeResult>('node', (r) => {
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
      invariants: r.invariants,
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
      expect(answer).toMatch(/^(checkout|renew) 503 STORE_UNAVAILABLE retryable=true$/);
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
    expectInvariants(r);
  });
});
