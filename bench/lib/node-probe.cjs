// A preload for Leasehold nodes under `bench:ha` with BENCH_HA_PROBE set and under `bench:scale -- --etcd`
// (both pass it as `NODE_OPTIONS=--require …`; `--cpu-prof` itself is refused in NODE_OPTIONS).
// Measurement only, never loaded by a node otherwise. Per load phase it records, in this node process:
//   - how the node's etcd calls were shaped: write transactions by the number of operations they carry
//     (a group commit of n nested transactions counts n, a lone transaction 1), read-only transactions by
//     the number of reads, single range calls;
//   - with LH_PROBE_PROFILE=1, a V8 CPU profile of the phase (node:inspector, sampling every 500 µs).
// On SIGUSR2 it writes both for the phase that just ended to LH_PROBE_DIR (named by the phase the bench
// wrote to LH_PROBE_DIR/phase), then starts the next phase's.
// With LH_PROBE_MEM_MS=<ms>, every <ms> it also appends one line to LH_PROBE_DIR/<node>.mem.jsonl
// (bench/scale-etcd.mjs reads it), to tell what the RSS is made of beyond the heap in use and where a
// request's time goes: process.memoryUsage(); the V8 heap's committed / physical / used size per space
// (v8.getHeapSpaceStatistics) and V8's own malloc'ed memory; RssAnon / RssFile (/proc/self/status); the
// garbage collections so far by kind (count, pause ms); the node's etcd transactions so far, writes and
// reads apart (count, operations carried, time from call to answer: total and by bucket).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.LH_PROBE_DIR;
const idAt = process.argv.indexOf('--node-id');
const name = idAt > 0 ? process.argv[idAt + 1] : `node-${process.pid}`;
const memEveryMs = Number(process.env.LH_PROBE_MEM_MS ?? 0);
// Since the start, for the memory lines: etcd transactions as this node saw them (calls, operations they
// carried, and their time from call to answer in ms, by bucket), writes and reads apart.
const LATENCY_BUCKETS = [5, 10, 20, 50, 100, 200, 500, Number.POSITIVE_INFINITY];
const etcdTimes = {
  write: { n: 0, ops: 0, ms: 0, hist: LATENCY_BUCKETS.map(() => 0) },
  read: { n: 0, ops: 0, ms: 0, hist: LATENCY_BUCKETS.map(() => 0) },
};
if (dir && memEveryMs > 0) {
  const { appendFileSync } = require('node:fs');
  const v8 = require('node:v8');
  const memFile = join(dir, `${name}.mem.jsonl`);
  // Garbage collections so far by kind (perf_hooks 'gc' entries): how many, and their pause time in ms.
  const gc = { minor: [0, 0], major: [0, 0], incremental: [0, 0], weakcb: [0, 0] };
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = gc[kinds[entry.detail?.kind]];
      if (!kind) continue;
      kind[0] += 1;
      kind[1] += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const statusMb = (status, key) =>
    mb(Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024);
  const sample = () => {
    const usage = process.memoryUsage();
    const heap = v8.getHeapStatistics();
    const status = readFileSync('/proc/self/status', 'utf8');
    const spaces = {};
    for (const s of v8.getHeapSpaceStatistics()) {
      spaces[s.space_name.replace(/_space$/, '')] = {
        size: mb(s.space_size),
        physical: mb(s.physical_space_size),
        used: mb(s.space_used_size),
      };
    }
    const line = {
      t: Date.now(),
      rss: mb(usage.rss),
      rssAnon: statusMb(status, 'RssAnon'),
      rssFile: statusMb(status, 'RssFile'),
      heapTotal: mb(usage.heapTotal),
      heapPhysical: mb(heap.total_physical_size),
      heapUsed: mb(usage.heapUsed),
      external: mb(usage.external),
      arrayBuffers: mb(usage.arrayBuffers),
      v8Malloced: mb(heap.malloced_memory),
      v8MallocedPeak: mb(heap.peak_malloced_memory),
      spaces,
      gc: Object.fromEntries(Object.entries(gc).map(([k, [n, ms]]) => [k, { n, ms: Math.round(ms) }])),
      etcd: etcdTimes,
      etcdBuckets: LATENCY_BUCKETS.map(String),
    };
    appendFileSync(memFile, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, memEveryMs).unref();
}
if (dir) {
  const { KVClient } = require(require.resolve('etcd3/lib/rpc', { paths: [join(__dirname, '..', '..')] }));
  let counts;
  const reset = () => {
    counts = { writeTxns: {}, readTxns: {}, ranges: 0, readKeys: {} };
  };
  // What single reads are for: the key's kind (its first path segment under the deployment prefix).
  const kindOf = (key) => String(key).split('/')[2] ?? '?';
  reset();
  const bump = (histogram, size) => {
    histogram[size] = (histogram[size] ?? 0) + 1;
  };
  const txn = KVClient.prototype.txn;
  const timed = (kind, ops, answer) => {
    const start = performance.now();
    const done = () => {
      const ms = performance.now() - start;
      const t = etcdTimes[kind];
      t.n += 1;
      t.ops += ops;
      t.ms += ms;
      t.hist[LATENCY_BUCKETS.findIndex((b) => ms <= b)] += 1;
    };
    answer.then(done, done);
    return answer;
  };
  KVClient.prototype.txn = function probedTxn(req, options) {
    const success = req.success ?? [];
    let kind = 'write';
    let ops = 1;
    if ((req.compare ?? []).length === 0 && success.length > 0 && success.every((op) => op.request_txn)) {
      bump(counts.writeTxns, success.length);
      ops = success.length;
    } else if (
      (req.compare ?? []).length === 0 &&
      (req.failure ?? []).length === 0 &&
      success.every((op) => op.request_range)
    ) {
      bump(counts.readTxns, success.length);
      for (const op of success) bump(counts.readKeys, kindOf(op.request_range.key));
      kind = 'read';
      ops = success.length;
    } else {
      bump(counts.writeTxns, 1);
    }
    return timed(kind, ops, txn.call(this, req, options));
  };
  const range = KVClient.prototype.range;
  KVClient.prototype.range = function probedRange(req, options) {
    counts.ranges++;
    return range.call(this, req, options);
  };

  const profiling = process.env.LH_PROBE_PROFILE === '1';
  let session;
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
    );
  const startProfile = async () => {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
  };
  if (profiling) {
    const inspector = require('node:inspector');
    session = new inspector.Session();
    session.connect();
    startProfile().catch((err) => process.stderr.write(`node-probe: ${err}\n`));
  }
  process.on('SIGUSR2', async () => {
    let phase = 'phase';
    try {
      phase = readFileSync(join(dir, 'phase'), 'utf8').trim();
    } catch {}
    const finished = counts;
    reset();
    writeFileSync(join(dir, `${phase}.${name}.calls.json`), JSON.stringify(finished));
    if (profiling) {
      const { profile } = await post('Profiler.stop');
      writeFileSync(join(dir, `${phase}.${name}.cpuprofile`), JSON.stringify(profile));
      await startProfile();
    }
    writeFileSync(join(dir, `${phase}.${name}.done`), '');
  });
}
