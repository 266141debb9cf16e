// Loaded into a Leasehold node by bench/probe/profile-embedded.mjs (`--import`): SIGUSR2 starts a phase
// (V8 CPU profile through node:inspector, event-loop delay, GC entries, WAL syncs), the next SIGUSR2 ends
// it and writes `<PROBE_DIR>/<n>.cpuprofile` and `<n>.json`. In-process so a phase covers only the load,
// not the node's start-up or the set-up requests. Measurement only; never loaded in production.
import fs, { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const dir = process.env.PROBE_DIR;
const intervalUs = Number(process.env.PROBE_INTERVAL_US ?? 200);
const profile = process.env.PROBE_CPU !== '0';
let phase = 0;
let active;

// The WAL's fdatasync (packages/store/src/sqlite/wal-sync.ts, on the thread pool): how long each takes from
// the call to its callback, the part of a write's latency spent waiting for the disk. wal-sync.ts imports
// `fdatasync` from node:fs; syncBuiltinESMExports makes that import see this wrapper.
const fdatasync = fs.fdatasync;
fs.fdatasync = (fd, callback) => {
  const began = performance.now();
  fdatasync(fd, (err) => {
    active?.syncs.push(performance.now() - began);
    callback(err);
  });
};
syncBuiltinESMExports();

const post = (session, method, params) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

const GC_KIND = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

async function start() {
  const session = new Session();
  session.connect();
  if (profile) {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: intervalUs });
    await post(session, 'Profiler.start');
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const gcs = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ kind: GC_KIND[e.detail?.kind] ?? 'other', ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  // Longest event-loop stall per second (the p99 follows these).
  const perSecond = [];
  const ticker = setInterval(() => {
    perSecond.push(delay.max / 1e6);
    delay.reset();
  }, 1000);
  const all = monitorEventLoopDelay({ resolution: 1 });
  all.enable();
  active = {
    syncs: [],
    session,
    delay,
    all,
    gcs,
    observer,
    ticker,
    perSecond,
    started: performance.now(),
    cpu: process.cpuUsage(),
  };
}

async function stop() {
  const a = active;
  active = undefined;
  phase += 1;
  clearInterval(a.ticker);
  a.delay.disable();
  a.all.disable();
  a.observer.disconnect();
  const seconds = (performance.now() - a.started) / 1000;
  const cpu = process.cpuUsage(a.cpu);
  if (profile) {
    const { profile: p } = await post(a.session, 'Profiler.stop');
    writeFileSync(join(dir, `${phase}.cpuprofile`), JSON.stringify(p));
  }
  a.session.disconnect();
  const byKind = {};
  for (const g of a.gcs) {
    byKind[g.kind] ??= { count: 0, totalMs: 0, maxMs: 0 };
    const k = byKind[g.kind];
    k.count += 1;
    k.totalMs += g.ms;
    k.maxMs = Math.max(k.maxMs, g.ms);
  }
  const sorted = a.gcs.map((g) => g.ms).sort((x, y) => x - y);
  const syncs = [...a.syncs].sort((x, y) => x - y);
  const at = (list, q) => list[Math.min(list.length - 1, Math.floor(list.length * q))] ?? 0;
  const ms = (ns) => ns / 1e6;
  writeFileSync(
    join(dir, `${phase}.json`),
    JSON.stringify({
      seconds,
      cpuUserS: cpu.user / 1e6,
      cpuSystemS: cpu.system / 1e6,
      eventLoopDelayMs: {
        p50: ms(a.all.percentile(50)),
        p99: ms(a.all.percentile(99)),
        max: ms(a.all.max),
        maxPerSecond: a.perSecond.map((v) => Math.round(v * 10) / 10),
      },
      gc: {
        perSecond: a.gcs.length / seconds,
        msPerSecond: a.gcs.reduce((n, g) => n + g.ms, 0) / seconds,
        p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
        byKind,
      },
      walSync: {
        perSecond: syncs.length / seconds,
        p50Ms: at(syncs, 0.5),
        p99Ms: at(syncs, 0.99),
        maxMs: syncs.at(-1) ?? 0,
      },
    }),
  );
}

let busy = Promise.resolve();
process.on('SIGUSR2', () => {
  busy = busy
    .then(() => (active ? stop() : start()))
    .catch((err) => process.stderr.write(`probe: ${err.stack}\n`));
});
