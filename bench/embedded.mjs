// Embedded-node benchmark: how fast one Leasehold node on SQLite checks seats out and renews leases, each
// as a ratio to its ceiling measured in the same run (the essential-work baseline: bench/essential-work.mjs;
// and a bare Fastify hello-world), and how much memory the node holds idle and with 10,000 active leases.
// Writes bench/results/embedded.json and re-renders bench/report.md. See bench/README.md.
//
//   npm run build && npm run bench
//   BENCH_DURATION=10 BENCH_RUNS=5 SQLITE_SYNCHRONOUS=NORMAL npm run bench
//
// Everything under test runs in child processes; load comes from wrk (C, bench/wrk/*.lua), which leaves
// the servers the CPU. This process only starts children, makes set-up requests and reads /proc.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
import { commandLine, median, ROOT, writeResults } from './lib/results.mjs';
import { requireWrk, runWrk } from './lib/wrk.mjs';
import { renderReport } from './report.mjs';

const serverRequire = createRequire(join(ROOT, 'packages/server/package.json'));

const SETTINGS = {
  duration: intEnv('BENCH_DURATION', 5, 1),
  runs: intEnv('BENCH_RUNS', 3, 1),
  warmup: intEnv('BENCH_WARMUP', 2, 0),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  wrkThreads: intEnv('BENCH_WRK_THREADS', 2, 1),
  renewPool: intEnv('BENCH_RENEW_POOL', 1000, 1),
  memoryLeases: intEnv('BENCH_MEMORY_LEASES', 10_000, 1),
  memoryPools: intEnv('BENCH_MEMORY_POOLS', 10, 1),
  // "Idle" is judged once the node has sat with nothing to do this long (V8's memory reducer returns the
  // load's garbage after some seconds); the RSS 1 s after is printed beside it.
  idleSettle: intEnv('BENCH_IDLE_SETTLE_S', 15, 1),
  fillConcurrency: intEnv('BENCH_FILL_CONCURRENCY', 32, 1),
  synchronous: syncMode(),
};

/** Issue 14's embedded targets. */
const TARGETS = { renewRatio: 0.75, checkoutRatio: 0.65, p99Ms: 20, idleRssMb: 100, leasesRssMb: 130 };

const mb = (kb) => kb / 1024;
const int = (n) => Math.round(n).toLocaleString('en-US');
const log = (line = '') => process.stdout.write(`${line}\n`);

async function main() {
  const wrkVersion = requireWrk();
  installCleanup();
  const started = Date.now();
  const workDir = removeOnExit(mkdtempSync(join(tmpdir(), 'leasehold-bench-')));
  const vendor = await makeVendor();
  const vendorKeyPath = vendor.writePublicKey(workDir);
  const fastifyVersion = serverRequire('fastify/package.json').version;

  log('Leasehold embedded-node benchmark');
  log(`  node ${process.version}, wrk ${wrkVersion} (-t${SETTINGS.wrkThreads}), fastify ${fastifyVersion}`);
  log(
    `  ${SETTINGS.connections} connections, ${SETTINGS.duration} s per run, ${SETTINGS.runs} run(s), ` +
      `${SETTINGS.warmup} s warm-up, SQLite synchronous = ${SETTINGS.synchronous} (essential baseline: NORMAL)`,
  );

  // Servers ----------------------------------------------------------------------------------------------
  const bare = await startServerChild('bare fastify', 'bench/bare-fastify.mjs', [], '/');
  const bareIdleRss = rssKb(bare.child.pid);
  mkdirSync(join(workDir, 'essential'));
  const essential = await startServerChild(
    'essential-work baseline',
    'bench/essential-work.mjs',
    [join(workDir, 'essential'), String(SETTINGS.renewPool)],
    '/renew/none',
    'POST',
  );
  const essentialIds = join(workDir, 'essential', 'renew-ids.txt');

  mkdirSync(join(workDir, 'throughput'));
  const node = await startLeasehold(
    'leasehold node',
    join(workDir, 'throughput'),
    vendorKeyPath,
    SETTINGS.synchronous,
  );
  // One fresh license (seat pool) per checkout run: every run starts from the same empty pool.
  const checkoutLicenses = [];
  for (let i = 0; i <= SETTINGS.runs; i++) {
    checkoutLicenses.push(await installLicense(node, vendor, `bench-checkout-${i}`, ['checkout']));
  }
  const renewLicense = await installLicense(node, vendor, 'bench-renew', ['renew']);
  const renewIds = join(workDir, 'renew-ids.txt');
  const ids = await checkoutMany(node, renewLicense, SETTINGS.renewPool, SETTINGS.fillConcurrency);
  // One line per lease: its path after /v1/leases/, naming the client it belongs to (issue 11).
  const paths = ids.map((l) => `${l.id}/renew?client=${encodeURIComponent(l.clientId)}`);
  writeFileSync(renewIds, `${paths.join('\n')}\n`);
  log(`setup: servers up, renewal pools of ${int(ids.length)} leases ready`);

  const wrk = (url, script, args, duration) =>
    runWrk({ url, script, args, duration, connections: SETTINGS.connections, threads: SETTINGS.wrkThreads });
  const nonce = () => randomUUID().slice(0, 8);
  const scenarios = {
    bare: (d) => wrk(`${bare.url}/`, 'get.lua', [], d),
    essentialCheckout: (d) => wrk(essential.url, 'checkout.lua', ['/checkout', '-', 'checkout', nonce()], d),
    checkout: (d, license) =>
      wrk(node.url, 'checkout.lua', ['/v1/leases', license.token, license.features.join(','), nonce()], d),
    essentialRenew: (d) =>
      wrk(essential.url, 'renew.lua', ['/renew/', '-', '-', essentialIds, SETTINGS.wrkThreads], d),
    renew: (d) =>
      wrk(node.url, 'renew.lua', ['/v1/leases/', '-', renewLicense.token, renewIds, SETTINGS.wrkThreads], d),
  };

  if (SETTINGS.warmup > 0) {
    for (const [name, run] of Object.entries(scenarios))
      await run(SETTINGS.warmup, checkoutLicenses[0], name);
    log(`warm-up: done (${SETTINGS.warmup} s each)`);
  }

  const results = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  for (let run = 1; run <= SETTINGS.runs; run++) {
    // Interleaved, each Leasehold scenario right after its ceiling, so both see the same machine noise.
    for (const [name, scenario] of Object.entries(scenarios)) {
      results[name].push(await scenario(SETTINGS.duration, checkoutLicenses[run]));
    }
    const r = (name) => {
      const s = results[name].at(-1);
      const bad =
        s.non2xx || s.errors || s.timeouts
          ? ` [non-2xx ${s.non2xx}, errors ${s.errors}, timeouts ${s.timeouts}]`
          : '';
      return `${int(s.rate)}/s p99 ${s.p99.toFixed(1)} ms${bad}`;
    };
    log(
      `run ${run}/${SETTINGS.runs}: bare ${r('bare')} | essential checkout ${r('essentialCheckout')} | ` +
        `checkouts ${r('checkout')} | essential renew ${r('essentialRenew')} | renewals ${r('renew')}`,
    );
  }
  const throughputRss = rssKb(node.pid);
  const essentialRss = rssKb(essential.child.pid);
  const problems = problemsOf(node);
  await stopNode(node);
  await stopChild(bare);
  await stopChild(essential);

  // Memory: a fresh node, so "idle" is a node with one license and "with leases" adds exactly the leases.
  mkdirSync(join(workDir, 'memory'));
  const memNode = await startLeasehold(
    'leasehold node (memory)',
    join(workDir, 'memory'),
    vendorKeyPath,
    SETTINGS.synchronous,
  );
  const memFeatures = Array.from({ length: SETTINGS.memoryPools }, (_, i) => `memory-${i}`);
  const memLicense = await installLicense(memNode, vendor, 'bench-memory', memFeatures);
  const settled = async () => {
    await sleep(1000);
    const early = rssKb(memNode.pid);
    await sleep((SETTINGS.idleSettle - 1) * 1000);
    return { ...rssKb(memNode.pid), early: early.rss };
  };
  const idle = await settled();
  const fillStart = Date.now();
  await checkoutMany(memNode, memLicense, SETTINGS.memoryLeases, SETTINGS.fillConcurrency);
  const fillSeconds = (Date.now() - fillStart) / 1000;
  const full = await settled();
  const active = await activeLeases(memNode, memLicense.lid);
  problems.push(...problemsOf(memNode));
  await stopNode(memNode);

  // Figures ------------------------------------------------------------------------------------------------
  const rates = (name) => results[name].map((s) => s.rate);
  const p99s = (name) => results[name].map((s) => s.p99);
  const ratioRuns = (name, ceiling, field = 'rate') =>
    results[name].map((s, i) => s[field] / results[ceiling][i][field]);
  const throughput = (key, label, name, ceilingName, ceilingLabel, targetRatio) => ({
    key,
    label,
    unit: '/s',
    better: 'higher',
    generator: `wrk -t${SETTINGS.wrkThreads} -c${SETTINGS.connections}`,
    value: median(rates(name)),
    runs: rates(name),
    ...(ceilingName
      ? {
          ceiling: { label: ceilingLabel, value: median(rates(ceilingName)), runs: rates(ceilingName) },
          ratio: median(ratioRuns(name, ceilingName)),
          ratioRuns: ratioRuns(name, ceilingName),
        }
      : {}),
    ...(targetRatio ? { targetRatio } : {}),
    p50: median(results[name].map((s) => s.p50)),
    p99: median(p99s(name)),
    non2xx: results[name].reduce((n, s) => n + s.non2xx, 0),
    errors: results[name].reduce((n, s) => n + s.errors + s.timeouts, 0),
  });
  const latency = (key, label, name, ceilingName, ceilingLabel) => ({
    key,
    label,
    unit: 'ms',
    better: 'lower',
    generator: `wrk -t${SETTINGS.wrkThreads} -c${SETTINGS.connections}`,
    value: median(p99s(name)),
    runs: p99s(name),
    ceiling: { label: ceilingLabel, value: median(p99s(ceilingName)), runs: p99s(ceilingName) },
    ratio: median(ratioRuns(name, ceilingName, 'p99')),
  });
  const memory = (key, label, kb, note) => ({
    key,
    label,
    unit: 'MB',
    better: 'lower',
    generator: 'none (VmRSS from /proc)',
    value: mb(kb),
    ceiling: { label: 'bare Fastify idle RSS', value: mb(bareIdleRss.rss) },
    ratio: kb / bareIdleRss.rss,
    ...(note ? { note } : {}),
  });
  const figures = [
    throughput('bare', 'bare Fastify GET /', 'bare'),
    throughput(
      'essentialCheckout',
      'essential work, checkout (INSERT + sign)',
      'essentialCheckout',
      'bare',
      'bare Fastify',
    ),
    throughput(
      'essentialRenew',
      'essential work, renewal (UPDATE + sign)',
      'essentialRenew',
      'bare',
      'bare Fastify',
    ),
    throughput(
      'checkout',
      'Leasehold checkouts',
      'checkout',
      'essentialCheckout',
      'essential checkout',
      TARGETS.checkoutRatio,
    ),
    throughput(
      'renew',
      'Leasehold renewals',
      'renew',
      'essentialRenew',
      'essential renewal',
      TARGETS.renewRatio,
    ),
    throughput('checkoutVsBare', 'Leasehold checkouts vs bare Fastify', 'checkout', 'bare', 'bare Fastify'),
    throughput('renewVsBare', 'Leasehold renewals vs bare Fastify', 'renew', 'bare', 'bare Fastify'),
    latency(
      'checkoutP99',
      'Leasehold checkouts p99',
      'checkout',
      'essentialCheckout',
      'essential checkout p99',
    ),
    latency('renewP99', 'Leasehold renewals p99', 'renew', 'essentialRenew', 'essential renewal p99'),
    memory(
      'idleRss',
      `Leasehold RSS idle (one license, ${SETTINGS.idleSettle} s after)`,
      idle.rss,
      `${mb(idle.early).toFixed(1)} MB 1 s after`,
    ),
    memory(
      'leasesRss',
      `Leasehold RSS with ${int(active)} active leases (idle ${SETTINGS.idleSettle} s after the fill)`,
      full.rss,
      `${mb(full.early).toFixed(1)} MB 1 s after the fill, peak ${mb(full.hwm).toFixed(1)} MB`,
    ),
    memory('throughputRss', 'Leasehold RSS after the throughput runs', throughputRss.rss),
    memory('essentialRss', 'essential-work baseline RSS after its runs', essentialRss.rss),
  ];
  const byKey = Object.fromEntries(figures.map((f) => [f.key, f]));
  const p = (r) => `${(r * 100).toFixed(1)}%`;
  const targets = [
    {
      id: 'embedded.renewals',
      measured: `${p(byKey.renew.ratio)} (${int(byKey.renew.value)}/s vs ${int(byKey.essentialRenew.value)}/s)`,
      pass: byKey.renew.ratio >= TARGETS.renewRatio,
    },
    {
      id: 'embedded.checkouts',
      measured: `${p(byKey.checkout.ratio)} (${int(byKey.checkout.value)}/s vs ${int(byKey.essentialCheckout.value)}/s)`,
      pass: byKey.checkout.ratio >= TARGETS.checkoutRatio,
    },
    {
      id: 'embedded.p99',
      measured: `checkouts ${byKey.checkoutP99.value.toFixed(1)} ms, renewals ${byKey.renewP99.value.toFixed(1)} ms at ${SETTINGS.connections} connections`,
      pass:
        SETTINGS.connections === 50
          ? byKey.checkoutP99.value < TARGETS.p99Ms && byKey.renewP99.value < TARGETS.p99Ms
          : null,
    },
    {
      id: 'embedded.idleRss',
      measured: `${mb(idle.rss).toFixed(1)} MB (${mb(idle.early).toFixed(1)} MB 1 s after start-up)`,
      pass: mb(idle.rss) <= TARGETS.idleRssMb,
    },
    {
      id: 'embedded.rss10k',
      measured: `${mb(full.rss).toFixed(1)} MB with ${int(active)} leases (${mb(full.early).toFixed(1)} MB 1 s after the fill)`,
      pass: active >= 10_000 ? mb(full.rss) <= TARGETS.leasesRssMb : null,
    },
  ];
  const notes = [
    `Throughput: wrk ${wrkVersion}, ${SETTINGS.connections} connections closed loop, ${SETTINGS.duration} s per run, scenarios interleaved per run (bare, essential checkout, checkouts, essential renewal, renewals); each Leasehold ratio pairs a run with the ceiling run just before it.`,
    `Leasehold runs at SQLite synchronous=${SETTINGS.synchronous}; the essential-work baseline at NORMAL (the CPU floor).`,
    `Memory: a fresh node; ${int(SETTINGS.memoryLeases)} checkouts over ${SETTINGS.memoryPools} features by fetch from the bench process (${SETTINGS.fillConcurrency} in flight) in ${fillSeconds.toFixed(1)} s; active count read from the node (inUse).`,
    `Success = complete responses minus non-2xx (wrk's status errors); non-2xx over all runs: ${Object.entries(
      results,
    )
      .map(([k, v]) => `${k} ${v.reduce((n, s) => n + s.non2xx, 0)}`)
      .join(', ')}; socket errors + timeouts: ${Object.entries(results)
      .map(([k, v]) => `${k} ${v.reduce((n, s) => n + s.errors + s.timeouts, 0)}`)
      .join(', ')}.`,
    ...(problems.length > 0
      ? [`The nodes logged ${problems.length} warning/error line(s); first: ${problems[0].slice(0, 300)}`]
      : []),
  ];
  const file = writeResults('embedded', {
    title: 'Embedded node (bench/embedded.mjs)',
    command: commandLine('npm run bench', [
      'BENCH_DURATION',
      'BENCH_RUNS',
      'BENCH_CONNECTIONS',
      'BENCH_WARMUP',
      'SQLITE_SYNCHRONOUS',
      'BENCH_MEMORY_LEASES',
      'BENCH_NODE_OPTIONS',
    ]),
    settings: { ...SETTINGS, wrk: wrkVersion, fastify: fastifyVersion },
    figures,
    targets,
    notes,
  });

  log();
  log('RESULTS (medians)');
  for (const f of figures) {
    const ratio = f.ratio === undefined ? '' : `  = ${p(f.ratio)} of ${f.ceiling.label}`;
    const value = f.unit === '/s' ? `${int(f.value)}/s` : `${f.value.toFixed(1)} ${f.unit}`;
    log(`  ${f.label.padEnd(48)} ${value.padStart(12)}${ratio}`);
  }
  log();
  log('TARGETS');
  for (const t of targets)
    log(`  ${t.id.padEnd(20)} ${t.measured}: ${t.pass === null ? 'not judged' : t.pass ? 'PASS' : 'MISS'}`);
  log();
  log(`results: ${file}`);
  log(`report:  ${renderReport()}`);
  log(`total time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

runMain(main);
