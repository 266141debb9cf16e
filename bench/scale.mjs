// Scale benchmark, embedded node: checkout rate and memory as the number of active leases grows (issue 14:
// 100,000 active leases spread over 100 features, TTL 300 s; RSS <= 200 MB and the checkout rate at 100k
// within 80% of the rate at 1k). Writes bench/results/scale.json and re-renders bench/report.md.
//
//   npm run build && npm run bench:scale
//   BENCH_SCALE_LEVELS=1000,20000 BENCH_DURATION=2 BENCH_RUNS=1 npm run bench:scale   (a quick look)
//
// For each level (ascending) the background leases are checked out up to that count over the features of
// one license, then BENCH_RUNS short wrk runs measure the rate of checkout-release cycles (each 201's
// lease is released by the connection's next request: bench/wrk/checkout-release.lua), so the number of
// active leases stays at the level (plus at most one per connection) while it is measured. Each run
// checks out from a feature of its own (an empty seat pool, so every run pays the same per-pool cost and
// only the leases elsewhere differ), right after a run of the same cycle against the essential-work
// baseline (INSERT + sign, DELETE) as its ceiling. Nothing expires during the benchmark as long as it
// finishes within the TTL; the script stops if the fill outlasts BENCH_SCALE_FILL_LIMIT_S.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeVendor } from '@leasehold/devtools';
import {
  activeLeases,
  checkoutMany,
  installCleanup,
  installLicense,
  intEnv,
  problemsOf,
  removeOnExit,
  rssKb,
  runMain,
  startLeasehold,
  startServerChild,
  stopChild,
  stopNode,
  syncMode,
} from './lib/embedded-node.mjs';
import { commandLine, median, writeResults } from './lib/results.mjs';
import { requireWrk, runWrk } from './lib/wrk.mjs';
import { renderReport } from './report.mjs';

function levels() {
  const raw = process.env.BENCH_SCALE_LEVELS ?? '1000,100000';
  const list = raw.split(',').map(Number);
  if (list.length < 1 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`BENCH_SCALE_LEVELS must be a comma-separated list of positive integers, got "${raw}"`);
  }
  return [...list].sort((a, b) => a - b);
}

const SETTINGS = {
  levels: levels(),
  features: intEnv('BENCH_SCALE_FEATURES', 100, 1),
  ttl: intEnv('BENCH_SCALE_TTL', 300, 30),
  fillLimitS: intEnv('BENCH_SCALE_FILL_LIMIT_S', 240, 10),
  duration: intEnv('BENCH_DURATION', 3, 1),
  runs: intEnv('BENCH_RUNS', 3, 1),
  warmup: intEnv('BENCH_WARMUP', 1, 0),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  wrkThreads: intEnv('BENCH_WRK_THREADS', 2, 1),
  fillConcurrency: intEnv('BENCH_FILL_CONCURRENCY', 32, 1),
  synchronous: syncMode(),
};
const TARGETS = { rssMb: 200, rateRatio: 0.8, leases: 100_000 };

const int = (n) => Math.round(n).toLocaleString('en-US');
const mb = (kb) => kb / 1024;
const log = (line = '') => process.stdout.write(`${line}\n`);

async function main() {
  const wrkVersion = requireWrk();
  installCleanup();
  const started = Date.now();
  const workDir = removeOnExit(mkdtempSync(join(tmpdir(), 'leasehold-bench-scale-')));
  const vendor = await makeVendor();
  const vendorKeyPath = vendor.writePublicKey(workDir);
  const top = SETTINGS.levels.at(-1);
  log('Leasehold scale benchmark (embedded node)');
  log(
    `  levels ${SETTINGS.levels.map(int).join(' / ')} active leases over ${SETTINGS.features} features, TTL ${SETTINGS.ttl} s; ` +
      `${SETTINGS.runs} wrk run(s) of ${SETTINGS.duration} s per level, ${SETTINGS.connections} connections; SQLite ${SETTINGS.synchronous}`,
  );

  mkdirSync(join(workDir, 'essential'));
  const essential = await startServerChild(
    'essential-work baseline',
    'bench/essential-work.mjs',
    [join(workDir, 'essential'), '0'],
    '/renew/none',
    'POST',
  );
  mkdirSync(join(workDir, 'node'));
  const node = await startLeasehold(
    'leasehold node',
    join(workDir, 'node'),
    vendorKeyPath,
    SETTINGS.synchronous,
  );
  const bgFeatures = Array.from({ length: SETTINGS.features }, (_, i) => `bg-${i}`);
  const background = await installLicense(node, vendor, 'scale-background', bgFeatures, {
    seats: Math.ceil(top / SETTINGS.features) * 2,
    ttl: SETTINGS.ttl,
  });
  const measureFeatures = [
    'warmup',
    ...SETTINGS.levels.flatMap((l) => Array.from({ length: SETTINGS.runs }, (_, r) => `m-${l}-${r}`)),
  ];
  const measure = await installLicense(node, vendor, 'scale-measure', measureFeatures, { ttl: SETTINGS.ttl });
  await sleep(1000);
  const idle = rssKb(node.pid);
  log(`setup: node up, idle RSS ${mb(idle.rss).toFixed(1)} MB`);

  const cycles = (url, checkoutPath, releasePrefix, token, feature, duration = SETTINGS.duration) =>
    runWrk({
      url,
      script: 'checkout-release.lua',
      args: [checkoutPath, releasePrefix, token, feature, randomUUID().slice(0, 8)],
      duration,
      connections: SETTINGS.connections,
      threads: SETTINGS.wrkThreads,
    });
  const essentialCycles = (duration) =>
    cycles(essential.url, '/checkout', '/lease/', '-', 'checkout', duration);
  const leaseholdCycles = (feature, duration) =>
    cycles(node.url, '/v1/leases', '/v1/leases/', measure.token, feature, duration);
  const count = async () =>
    (await activeLeases(node, background.lid)) + (await activeLeases(node, measure.lid));

  const perLevel = [];
  let filled = 0;
  let firstFill;
  for (const level of SETTINGS.levels) {
    const fillStart = Date.now();
    firstFill ??= fillStart;
    // Bounded: one chunk of at most 5,000 checkouts per step, and a time limit below the TTL.
    while (filled < level) {
      if ((Date.now() - firstFill) / 1000 > SETTINGS.fillLimitS) {
        throw new Error(
          `filling took over BENCH_SCALE_FILL_LIMIT_S=${SETTINGS.fillLimitS} s (at ${int(filled)} leases): the first leases would expire (TTL ${SETTINGS.ttl} s) before the measurement`,
        );
      }
      const chunk = Math.min(5000, level - filled);
      await checkoutMany(node, background, chunk, SETTINGS.fillConcurrency);
      filled += chunk;
    }
    const fillSeconds = (Date.now() - fillStart) / 1000;
    await sleep(1000);
    const rss = rssKb(node.pid);
    const activeBefore = await count();
    if (SETTINGS.warmup > 0 && perLevel.length === 0) {
      await essentialCycles(SETTINGS.warmup);
      await leaseholdCycles('warmup', SETTINGS.warmup);
    }
    const runs = [];
    for (let r = 0; r < SETTINGS.runs; r++) {
      const ceiling = await essentialCycles();
      const leasehold = await leaseholdCycles(`m-${level}-${r}`);
      runs.push({ ceiling, leasehold });
      log(
        `level ${int(level)} run ${r + 1}/${SETTINGS.runs}: essential cycles ${int(ceiling.rate)}/s | ` +
          `Leasehold checkouts ${int(leasehold.rate)}/s (releases ${int(leasehold.released / leasehold.seconds)}/s) p99 ${leasehold.p99.toFixed(1)} ms` +
          (leasehold.non2xx || leasehold.errors
            ? ` [non-2xx ${leasehold.non2xx}, errors ${leasehold.errors}]`
            : ''),
      );
    }
    const activeAfter = await count();
    const rssAfter = rssKb(node.pid);
    perLevel.push({ level, fillSeconds, rss, rssAfter, activeBefore, activeAfter, runs });
    log(
      `level ${int(level)}: filled in ${fillSeconds.toFixed(1)} s; active ${int(activeBefore)} -> ${int(activeAfter)}; ` +
        `RSS ${mb(rss.rss).toFixed(1)} MB (after runs ${mb(rssAfter.rss).toFixed(1)} MB, peak ${mb(rssAfter.hwm).toFixed(1)} MB)`,
    );
  }
  const problems = problemsOf(node);
  await stopNode(node);
  await stopChild(essential);

  // Figures ------------------------------------------------------------------------------------------------
  const generator = `wrk -t${SETTINGS.wrkThreads} -c${SETTINGS.connections}`;
  const first = perLevel[0];
  const last = perLevel.at(-1);
  const rates = (l) => l.runs.map((r) => r.leasehold.rate);
  const figures = [];
  for (const l of perLevel) {
    const ceilings = l.runs.map((r) => r.ceiling.rate);
    const tag = `at ${int(l.level)} leases (${int(l.activeBefore)} -> ${int(l.activeAfter)} active)`;
    figures.push({
      key: `checkout-${l.level}`,
      label: `checkouts (checkout-release cycles) ${tag}`,
      unit: '/s',
      better: 'higher',
      generator,
      value: median(rates(l)),
      runs: rates(l),
      ceiling: { label: 'essential cycles', value: median(ceilings), runs: ceilings },
      ratio: median(l.runs.map((r) => r.leasehold.rate / r.ceiling.rate)),
      p99: median(l.runs.map((r) => r.leasehold.p99)),
    });
    figures.push({
      key: `p99-${l.level}`,
      label: `checkout/release p99 ${tag}`,
      unit: 'ms',
      better: 'lower',
      generator,
      value: median(l.runs.map((r) => r.leasehold.p99)),
      runs: l.runs.map((r) => r.leasehold.p99),
      ceiling: { label: 'essential cycle p99', value: median(l.runs.map((r) => r.ceiling.p99)) },
      ratio: median(l.runs.map((r) => r.leasehold.p99 / r.ceiling.p99)),
    });
    figures.push({
      key: `rss-${l.level}`,
      label: `RSS with ${int(l.activeBefore)} active leases`,
      unit: 'MB',
      better: 'lower',
      generator: 'none (VmRSS from /proc)',
      value: mb(l.rss.rss),
      ceiling: { label: 'the same node idle', value: mb(idle.rss) },
      ratio: l.rss.rss / idle.rss,
      targetRatio: TARGETS.rssMb / mb(idle.rss),
    });
  }
  const scaleRatio = median(last.runs.map((r, i) => r.leasehold.rate / first.runs[i].leasehold.rate));
  if (perLevel.length > 1) {
    figures.push({
      key: 'rate-top-vs-first',
      label: `checkout rate at ${int(last.level)} vs at ${int(first.level)}`,
      unit: '/s',
      better: 'higher',
      generator,
      value: median(rates(last)),
      ceiling: { label: `rate at ${int(first.level)}`, value: median(rates(first)) },
      ratio: scaleRatio,
      targetRatio: TARGETS.rateRatio,
    });
  }
  const peakKb = Math.max(...perLevel.map((l) => l.rssAfter.rss));
  const atTarget = last.activeBefore >= TARGETS.leases;
  const targets = [
    {
      id: 'scale.embeddedRss',
      measured: `${mb(last.rss.rss).toFixed(1)} MB with ${int(last.activeBefore)} active leases (${mb(peakKb).toFixed(1)} MB after the measured runs)`,
      pass: atTarget ? mb(last.rss.rss) <= TARGETS.rssMb : null,
    },
    {
      id: 'scale.embeddedRate',
      measured:
        perLevel.length > 1
          ? `${(scaleRatio * 100).toFixed(1)}% (${int(median(rates(last)))}/s at ${int(last.level)} vs ${int(median(rates(first)))}/s at ${int(first.level)})`
          : 'one level only',
      pass: perLevel.length > 1 && atTarget && first.level <= 1000 ? scaleRatio >= TARGETS.rateRatio : null,
    },
  ];
  const notes = [
    `Background leases: checked out by fetch from the bench process (${SETTINGS.fillConcurrency} in flight) over ${SETTINGS.features} features of one license, TTL ${SETTINGS.ttl} s; fill times ${perLevel.map((l) => `${int(l.level)}: ${l.fillSeconds.toFixed(1)} s`).join(', ')}.`,
    `Each measured run is wrk checkout-release cycles (bench/wrk/checkout-release.lua: a 201's lease is released by the next request of the same wrk thread), checking out from an empty feature of its own; the rate counts checkouts (201). The labels give the active count before the level's first run and after its last (the node's inUse; the load leaves at most about one unreleased lease per connection at the end of each run).`,
    `Ratios of checkouts: to the same cycles on the essential-work baseline (INSERT + Ed25519 sign, then DELETE) measured just before each run; "rate at top vs first" pairs run i of both levels. RSS ratio: to the same node idle with its licenses installed (${mb(idle.rss).toFixed(1)} MB); its target tick is 200 MB.`,
    ...(problems.length > 0
      ? [`The node logged ${problems.length} warning/error line(s); first: ${problems[0].slice(0, 300)}`]
      : []),
  ];
  const file = writeResults('scale', {
    title: 'Scale, embedded node (bench/scale.mjs)',
    command: commandLine('npm run bench:scale', [
      'BENCH_SCALE_LEVELS',
      'BENCH_SCALE_FEATURES',
      'BENCH_SCALE_TTL',
      'BENCH_DURATION',
      'BENCH_RUNS',
      'BENCH_CONNECTIONS',
      'SQLITE_SYNCHRONOUS',
    ]),
    settings: { ...SETTINGS, levels: SETTINGS.levels.join('/'), wrk: wrkVersion },
    figures,
    targets,
    notes,
  });
  log();
  for (const t of targets)
    log(`${t.id}: ${t.measured}: ${t.pass === null ? 'not judged' : t.pass ? 'PASS' : 'MISS'}`);
  log(`results: ${file}`);
  log(`report:  ${renderReport()}`);
  log(`total time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

// `npm run bench:scale -- --etcd`: the same 100,000 on the 3-node etcd cluster (bench/scale-etcd.mjs).
if (process.argv.includes('--etcd')) {
  const { runEtcdScale } = await import('./scale-etcd.mjs');
  runEtcdScale();
} else {
  runMain(main);
}
