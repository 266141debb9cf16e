#!/usr/bin/env node
// Network-partition scenarios for the HA test (partition.test.ts). Runs INSIDE a private network and mount
// namespace (`unshare -n -m node …/partition/dist/partition/main.js --scenario leader|node --dir <empty
// dir>`; tsc -b compiles it) and refuses to run anywhere else: it rewrites the routing rules and nftables
// of its network namespace and mounts over /etc/passwd and into its --dir in its mount namespace.
//
// Writes into --dir the clients' history (history.ndjson, typed by history.ts, for checker.ts) and the
// store's lease records (store-leases.json); prints progress to stderr and one line
// `PARTITION_RESULT <json>` (result.ts) to stdout. Every child (etcd members, nodes) is started with a
// parent-death signal, so none outlives this process however it ends.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StoredLease } from '../checker.js';
import { History } from '../history.js';
import { opsToNdjson } from '../history-file.js';
import { findRepoRoot, startNamespacedCluster } from './namespaced-cluster.js';
import { elapsedLog, runNamespacedMain } from './namespaced-main.js';
import type { NamespacedNode } from './processes.js';
import {
  type CommonResult,
  FEATURE,
  HISTORY_FILE,
  type ScenarioResult,
  STORE_LEASES_FILE,
} from './result.js';
import { leaderScenario, nodeScenario, type ScenarioContext } from './scenarios.js';
import { call, isOk } from './traffic.js';

/** The whole scenario, start to result, must end within this; then it kills itself (and, by pdeathsig, all). */
const WATCHDOG_MS = 170_000;
/** The repository root, from this file's place in it (compiled or not: both sit 4-6 levels below). */
const REPO_ROOT = findRepoRoot(fileURLToPath(new URL('.', import.meta.url)));

const { values: argv } = parseArgs({
  options: {
    scenario: { type: 'string' },
    dir: { type: 'string' },
    'warmup-ms': { type: 'string', default: '4000' },
    'cut-ms': { type: 'string', default: '10000' },
    'after-ms': { type: 'string', default: '5000' },
    seed: { type: 'string' },
  },
});
const SCENARIO = argv.scenario;
if (SCENARIO !== 'leader' && SCENARIO !== 'node') {
  process.stderr.write('usage: unshare -n -m node main.js --scenario leader|node --dir <dir> [--seed n]\n');
  process.exit(2);
}
if (!argv.dir) {
  process.stderr.write('--dir <empty directory> is required\n');
  process.exit(2);
}
const WORK_DIR = resolve(argv.dir);
const SEED = argv.seed !== undefined ? Number(argv.seed) : Math.floor(Math.random() * 2 ** 31);

const log = elapsedLog(`partition ${SCENARIO}`);

/** The store's own records of every lease, written for checker.ts's checkStoreRecords. */
async function storeRecords(token: string, node: NamespacedNode): Promise<CommonResult['server']> {
  const url = `${node.url}/v1/leases?feature=${FEATURE}&all=true&limit=10000`;
  const r = await call(token, 'GET', url, undefined, 5000);
  if (!isOk(r)) {
    return {
      leasesRecorded: 0,
      maxSlot: -1,
      error: `GET /v1/leases?all=true via ${node.name} answered ${r.status} ${r.code ?? ''}`,
    };
  }
  const leases = (r.body as { leases: StoredLease[] }).leases;
  writeFileSync(join(WORK_DIR, STORE_LEASES_FILE), JSON.stringify(leases));
  return { leasesRecorded: leases.length, maxSlot: Math.max(-1, ...leases.map((l) => l.slot)) };
}

async function main(): Promise<void> {
  const cluster = await startNamespacedCluster({ workDir: WORK_DIR, repoRoot: REPO_ROOT, log });
  const { etcd, nodes, token } = cluster;
  const history = new History();
  try {
    log(`clients' seed ${SEED}`);
    const ctx: ScenarioContext = {
      etcd,
      nodes,
      history,
      token,
      seed: SEED,
      warmupMs: Number(argv['warmup-ms']),
      cutMs: Number(argv['cut-ms']),
      afterMs: Number(argv['after-ms']),
      log,
    };
    const first = nodes[0]!;
    const server = () => storeRecords(token, first);
    const result: ScenarioResult =
      SCENARIO === 'leader' ? await leaderScenario(ctx, server) : await nodeScenario(ctx, server);
    writeFileSync(join(WORK_DIR, HISTORY_FILE), opsToNdjson(history.ops));
    process.stdout.write(`PARTITION_RESULT ${JSON.stringify(result)}\n`);
  } catch (err) {
    cluster.dumpLogs();
    throw err;
  } finally {
    await cluster.stop();
  }
}

runNamespacedMain(main, {
  log,
  watchdogMs: WATCHDOG_MS,
  overrun: `scenario still running after ${WATCHDOG_MS} ms`,
});
