// A preload for Leasehold nodes under `bench:ha` with BENCH_HA_PROBE set (bench/ha.mjs passes it as
// `NODE_OPTIONS=--require …`; `--cpu-prof` itself is refused in NODE_OPTIONS). Measurement only, never
// loaded by a node otherwise. Per load phase it records, in this node process:
//   - how the node's etcd calls were shaped: write transactions by the number of operations they carry
//     (a group commit of n nested transactions counts n, a lone transaction 1), read-only transactions by
//     the number of reads, single range calls;
//   - with LH_PROBE_PROFILE=1, a V8 CPU profile of the phase (node:inspector, sampling every 500 µs).
// On SIGUSR2 it writes both for the phase that just ended to LH_PROBE_DIR (named by the phase the bench
// wrote to LH_PROBE_DIR/phase), then starts the next phase's.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.LH_PROBE_DIR;
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
  KVClient.prototype.txn = function probedTxn(req, options) {
    const success = req.success ?? [];
    if ((req.compare ?? []).length === 0 && success.length > 0 && success.every((op) => op.request_txn)) {
      bump(counts.writeTxns, success.length);
    } else if (
      (req.compare ?? []).length === 0 &&
      (req.failure ?? []).length === 0 &&
      success.every((op) => op.request_range)
    ) {
      bump(counts.readTxns, success.length);
      for (const op of success) bump(counts.readKeys, kindOf(op.request_range.key));
    } else {
      bump(counts.writeTxns, 1);
    }
    return txn.call(this, req, options);
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
  const idAt = process.argv.indexOf('--node-id');
  const name = idAt > 0 ? process.argv[idAt + 1] : `node-${process.pid}`;
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
