#!/usr/bin/env node
// The soak (issue 14, item 6; `npm run bench:soak` starts it through bench/soak.mjs): the fault run's
// clients, nemesis and checker for --minutes (default 30) on 3 etcd members + 3 nodes with group commit
// on, adding partitions and clock steps to the fault run's kills and pauses (soak-nemesis.ts). Runs INSIDE
// a private network and mount namespace (`unshare -n -m node …/soak/dist/soak/main.js --dir <empty dir>`;
// tsc -b compiles it) and refuses to run anywhere else, like the partition scenario it shares its
// set-up with (../partition/namespaced-cluster.ts).
//
// Writes the history (ops, faults, the store's records) to <dir>/soak-history.json, prints progress and
// the summary tables to stderr and one line `SOAK_RESULT <json>` to stdout. Every child dies with this
// process (parent-death signal); a watchdog ends it if it overruns its minutes by WATCHDOG_SLACK_MS.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { liveLeasesUntilFree, membershipHealed, storedLeases } from '../after-run.js';
import { checkHistory, checkStoreRecords, type Violation } from '../checker.js';
import { FAULT_WORKLOAD, runWorkloadClients, workloadFeatures, workloadPools } from '../fault-workload.js';
import { FAULT_KINDS, History, now } from '../history.js';
import { type NemesisCluster, nodeReady } from '../nemesis.js';
import { findRepoRoot, startNamespacedCluster } from '../partition/namespaced-cluster.js';
import { elapsedLog, runNamespacedMain } from '../partition/namespaced-main.js';
import { formatCounts, formatOutages, opCounts, outageByKind } from '../summary.js';
import type { ClientStats } from '../workload.js';
import { FaketimeClocks, namespaceNetwork } from './soak-faults.js';
import { CLOCK_STEP_MS, runSoakNemesis, soakLanes } from './soak-nemesis.js';

// The fault run's workload (../fault-workload.ts): 20 clients, 4 contended pools of 5 seats, 6 s leases.
const { clients: CLIENTS, seats: SEATS, ttlSeconds: TTL_SECONDS } = FAULT_WORKLOAD;
const LICENSE = 'lic-soak';
const WATCHDOG_SLACK_MS = 300_000;
const PROGRESS_EVERY_MS = 60_000;
export const SOAK_HISTORY_FILE = 'soak-history.json';
const REPO_ROOT = findRepoRoot(fileURLToPath(new URL('.', import.meta.url)));

const { values: argv } = parseArgs({
  options: {
    dir: { type: 'string' },
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    // Comma-separated fault kinds (default: every kind of both lanes), e.g. `clock-step` alone.
    faults: { type: 'string' },
    // The nodes' maxClockSkewMs (docs/ha.md "Expiry"); default the clock step, so no step outruns it.
    'max-clock-skew-ms': { type: 'string', default: String(CLOCK_STEP_MS) },
  },
});
if (!argv.dir) {
  process.stderr.write(
    'usage: unshare -n -m node main.js --dir <empty dir> [--minutes 30] [--seed n] [--faults kind,…] [--max-clock-skew-ms 2000]\n',
  );
  process.exit(2);
}
const WORK_DIR = resolve(argv.dir);
const MINUTES = Number(argv.minutes);
if (!(MINUTES > 0 && MINUTES <= 240)) {
  process.stderr.write('--minutes must be in (0, 240]\n');
  process.exit(2);
}
const SEED = argv.seed !== undefined ? Number(argv.seed) : Math.floor(Math.random() * 2 ** 31);
const LANES = soakLanes(argv.faults?.split(',').map((k) => k.trim()));
const MAX_CLOCK_SKEW_MS = Number(argv['max-clock-skew-ms']);
if (!Number.isInteger(MAX_CLOCK_SKEW_MS) || MAX_CLOCK_SKEW_MS < 0) {
  process.stderr.write('--max-clock-skew-ms must be a whole number of ms >= 0\n');
  process.exit(2);
}
/**
 * How early the checker lets a seat free: what a clock step can cost beyond the nodes' margin. The margin
 * at the step size (the default) leaves none: seats are judged exactly.
 */
const CLOCK_TOLERANCE_MS = Math.max(0, CLOCK_STEP_MS - MAX_CLOCK_SKEW_MS);
/**
 * How early a node may find a lease expired (a renewal answered LEASE_EXPIRED): the whole step, margin or
 * not. The holder's lease ends at its deadline on the acting node's clock (docs/ha.md "Expiry"); the margin
 * delays only the seat's hand-over to someone else, so a node stepped ahead still refuses renewals early.
 */
const EXPIRY_TOLERANCE_MS = CLOCK_STEP_MS;

const log = elapsedLog('soak');

/** Violations counted as the issue names them. */
function tally(violations: readonly Violation[]) {
  const count = (...rules: Violation['rule'][]) => violations.filter((v) => rules.includes(v.rule)).length;
  return {
    oversubscribed: count('oversubscribed', 'slot-shared'),
    lostLeases: count('lease-lost'),
    duplicateGrants: count('duplicate-lease'),
    malformed: count('malformed'),
  };
}

async function main(): Promise<void> {
  const clocks = new FaketimeClocks(WORK_DIR);
  const cluster = await startNamespacedCluster({
    workDir: WORK_DIR,
    repoRoot: REPO_ROOT,
    log,
    license: {
      lid: LICENSE,
      features: workloadFeatures(),
      ttlSeconds: TTL_SECONDS,
    },
    // Group commit on, at its default window, said explicitly: the soak is of batching.
    nodeEnv: { LEASEHOLD_ETCD_BATCH_WINDOW_MS: '2', LEASEHOLD_MAX_CLOCK_SKEW_MS: String(MAX_CLOCK_SKEW_MS) },
    nodeEnvByName: clocks.envByName(['node-1', 'node-2', 'node-3']),
    nodePreload: clocks.library,
  });
  const { token } = cluster;
  const urls = cluster.nodes.map((n) => n.url);
  try {
    const history = new History();
    const startedAt = now();
    const stopAt = startedAt + MINUTES * 60_000;
    log(
      `running ${MINUTES} min, ${CLIENTS} clients, seed ${SEED}, maxClockSkewMs ${MAX_CLOCK_SKEW_MS}; lanes: ${LANES.map((l) => `${l.name} [${l.kinds.join(', ')}]`).join('; ')}`,
    );
    const progress = setInterval(() => {
      const ok = history.ops.filter((op) => op.outcome === 'ok').length;
      log(`${history.faults.length} faults, ${history.ops.length} ops (${ok} ok)`);
    }, PROGRESS_EVERY_MS);
    const target: NemesisCluster = {
      etcd: cluster.etcd,
      nodes: cluster.nodes,
      network: namespaceNetwork,
      clocks,
    };
    let stats: ClientStats[];
    let errors: string[];
    try {
      [stats, { errors }] = await Promise.all([
        runWorkloadClients(history, {
          nodes: cluster.nodes.map((n) => ({ name: n.name, url: n.url })),
          token,
          license: LICENSE,
          stopAt,
          seed: SEED,
        }),
        runSoakNemesis(target, history, stopAt, LANES),
      ]);
    } finally {
      clearInterval(progress);
    }
    const clientsDoneAt = now();
    log(`clients and nemesis done: ${history.faults.length} faults, ${history.ops.length} ops`);

    // After the run, as the fault run checks it (../after-run.ts).
    const states = cluster.nodes.map((n) => `${n.name}: ${n.state}`);
    const ready = await Promise.all(cluster.nodes.map((n) => nodeReady(n, 15_000)));
    const drainBoundMs = TTL_SECONDS * 1000 + 10_000;
    const liveLeases = await liveLeasesUntilFree(urls[0] ?? '', token, clientsDoneAt + drainBoundMs);
    const drainedAfterMs = now() - clientsDoneAt;
    const membership = await membershipHealed(urls, token);
    const stored = await storedLeases(urls, token);

    const pools = workloadPools(LICENSE);
    const checked = checkHistory(history, pools, CLOCK_TOLERANCE_MS, EXPIRY_TOLERANCE_MS);
    const strict = checkHistory(history, pools, 0);
    const storeViolations = checkStoreRecords(history, stored ?? []);
    const violations = [...checked.violations, ...storeViolations];
    const historyFile = join(WORK_DIR, SOAK_HISTORY_FILE);
    writeFileSync(historyFile, JSON.stringify({ seed: SEED, startedAt, ...history, stored }));

    const total = (key: Exclude<keyof ClientStats, 'client'>) => stats.reduce((sum, s) => sum + s[key], 0);
    const counts = opCounts(history);
    const faultsByKind = Object.fromEntries(
      FAULT_KINDS.map((k) => [k, history.faults.filter((f) => f.kind === k).length]),
    );
    const result = {
      minutes: MINUTES,
      seed: SEED,
      startedAt,
      clientsDoneAt,
      clients: CLIENTS,
      pools: `4 x ${SEATS} seats, TTL ${TTL_SECONDS} s`,
      batchWindowMs: 2,
      clockToleranceMs: CLOCK_TOLERANCE_MS,
      expiryToleranceMs: EXPIRY_TOLERANCE_MS,
      maxClockSkewMs: MAX_CLOCK_SKEW_MS,
      faultKinds: LANES.flatMap((l) => l.kinds),
      faults: history.faults.length,
      faultsByKind,
      outageByKind: outageByKind(history),
      ops: counts,
      okOps: counts.reduce((sum, c) => sum + c.ok, 0),
      leases: {
        granted: total('granted'),
        seenByChecker: checked.leases,
        inStore: stored?.length,
        exhausted: total('exhausted'),
        unresolved: total('unresolved'),
        abandoned: total('abandoned'),
        lostByClients: total('lost'),
        checkedIn: total('checkedIn'),
      },
      peakHeld: checked.peakHeld,
      violations: { ...tally(violations), total: violations.length },
      strictClockViolations: { ...tally(strict.violations), total: strict.violations.length },
      violationSamples: violations
        .slice(0, 20)
        .map((v) => ({ rule: v.rule, message: v.message, ops: v.ops })),
      nemesisErrors: errors,
      after: {
        nodeStates: states,
        allReady: ready.every((r) => r !== undefined),
        liveLeases,
        drainedAfterMs,
        drainBoundMs,
        membershipOk: membership.ok,
        membership: membership.view,
        storeRead: stored !== undefined,
      },
      historyFile,
    };
    process.stderr.write(
      [
        '',
        `soak: ${MINUTES} min, ${CLIENTS} clients, 4 pools x ${SEATS} seats, TTL ${TTL_SECONDS} s, seed ${SEED}, group commit 2 ms`,
        `faults injected: ${history.faults.length} (${Object.entries(faultsByKind)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`,
        'outage = a client run of consecutive calls with no usable answer (timeout, connection error, retryable 503),',
        'first call to last return, attributed to the latest fault started before it ended (faults overlap: two lanes)',
        formatOutages(history),
        '',
        formatCounts(history),
        '',
        `violations (maxClockSkewMs ${MAX_CLOCK_SKEW_MS}; seats freed early tolerated ${CLOCK_TOLERANCE_MS} ms, leases found expired early ${EXPIRY_TOLERANCE_MS} ms): ${JSON.stringify(result.violations)}`,
        `violations with no clock tolerance at all (what a stepped clock costs, docs/ha.md): ${JSON.stringify(result.strictClockViolations)}`,
        `nemesis errors: ${errors.length}${errors.length ? `: ${errors.slice(0, 10).join(' / ')}` : ''}`,
        `after: ${states.join(', ')}; ${liveLeases} live leases ${drainedAfterMs} ms after the clients stopped; membership ${membership.ok ? 'healed' : 'NOT healed'}: ${membership.view}`,
        `history: ${historyFile}`,
        '',
      ].join('\n'),
    );
    for (const v of violations.slice(0, 10)) process.stderr.write(`${JSON.stringify(v, null, 1)}\n`);
    process.stdout.write(`SOAK_RESULT ${JSON.stringify(result)}\n`);
  } catch (err) {
    cluster.dumpLogs();
    throw err;
  } finally {
    await cluster.stop();
  }
}

runNamespacedMain(main, {
  log,
  watchdogMs: MINUTES * 60_000 + WATCHDOG_SLACK_MS,
  overrun: `still running ${WATCHDOG_SLACK_MS} ms past its ${MINUTES} min`,
});
