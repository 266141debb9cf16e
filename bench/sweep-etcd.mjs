// The expiry sweep's own work on etcd (issue 14), apart from HTTP and renewal load: N leases that
// expire at the same instant on a 3-member etcd cluster (loopback, dev-cluster timings), swept by the
// store's expireLeases as the elected node's sweeper calls it (calls of 5,000 until one comes back short),
// with the time each phase spent (index reads, record reads, the write transactions) and what reached
// etcd (proposals). Times are given to the store, so nothing waits for a real deadline.
//
//   npm run build && flock /tmp/lh-cpu.lock node bench/sweep-etcd.mjs     (BENCH_SWEEP_LEASES=10000)
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, makeVendor } from '@leasehold/devtools';
import { verifyStoredLicense } from '@leasehold/domain';
import { EtcdStore } from '@leasehold/store';
import { intEnv } from './lib/embedded-node.mjs';

const N = intEnv('BENCH_SWEEP_LEASES', 10_000, 1);
const ROUNDS = intEnv('BENCH_SWEEP_ROUNDS', 3, 1);
const FEATURES = 10;
const BATCH = 5000; // the node's ETCD_SWEEP_BATCH
const MARGIN_MS = 1000;
const T0 = Date.UTC(2026, 0, 1);
/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
const cpuS = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** The V8 CPU profile of this process between start and stop (BENCH_SWEEP_PROFILE=file). */
async function startProfile() {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
const log = (line) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-sweep-'));
const cluster = await EtcdCluster.start({ members: 3, dataDir: join(dir, 'etcd') });
await cluster.waitHealthy(15_000);
const vendor = await makeVendor(T0);
const licenseKeys = { vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]) };
const features = Array.from({ length: FEATURES }, (_, i) => `x-${i}`);
const results = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const store = new EtcdStore({
      endpoints: cluster.clientUrls(),
      prefix: `/sweep-${randomUUID()}/`,
      kek: randomBytes(32),
      licenseKeys,
      maxClockSkewMs: MARGIN_MS,
    });
    const raw = await vendor.issue({
      lid: 'expiry',
      ver: 1,
      iss: 'vendor',
      customer: 'Acme',
      product: 'cad',
      features: Object.fromEntries(features.map((f) => [f, { seats: N }])),
      iat: Math.floor(T0 / 1000) - 86_400,
      nbf: Math.floor(T0 / 1000) - 86_400,
      exp: Math.floor(T0 / 1000) + 365 * 86_400,
      lease: { ttl: 60, grace: 0, policy: 'strict' },
    });
    await store.installLicense(await verifyStoredLicense(raw, licenseKeys), T0);
    await store.expireLeases(T0, 1); // the one-off backfill, as a node's first sweep
    const fillStart = performance.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < N; i = next++) {
        await store.acquireSeat({
          leaseId: randomUUID(),
          requestId: randomUUID(),
          feature: features[i % FEATURES],
          client: { id: `c-${i}`, host: 'bench' },
          now: T0,
        });
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const fillS = (performance.now() - fillStart) / 1000;
    // Phases: wall time during which at least one call of the kind was in flight, and the calls.
    const gateway = store.gateway;
    const phases = {};
    const timed = (name, fn) => {
      phases[name] ??= { calls: 0, busyMs: 0, inFlight: 0, since: 0 };
      const p = phases[name];
      p.calls++;
      if (p.inFlight++ === 0) p.since = performance.now();
      return fn().finally(() => {
        if (--p.inFlight === 0) p.busyMs += performance.now() - p.since;
      });
    };
    const read = gateway.read.bind(gateway);
    gateway.read = (ops) =>
      timed(ops.every((op) => 'key' in op) ? 'record reads' : 'index reads', () => read(ops));
    const txnMany = gateway.txnMany.bind(gateway);
    gateway.txnMany = (txns) => {
      const all = txnMany(txns);
      void timed('writes', () => Promise.allSettled(all));
      return all;
    };
    const batchesBefore = gateway.batchStats.batches;
    const now = T0 + 60_000 + MARGIN_MS; // every deadline is T0 + 60 s: all free at once
    const etcdPids = cluster.members.map((m) => m.pid).filter((pid) => pid !== undefined);
    const cpuBefore = { self: process.cpuUsage(), etcd: etcdPids.map(cpuS) };
    const profiler = process.env.BENCH_SWEEP_PROFILE ? await startProfile() : undefined;
    const start = performance.now();
    let expired = 0;
    let calls = 0;
    for (;;) {
      const swept = await store.expireLeases(now, BATCH, { actor: 'system:sweeper', node: 'bench' });
      calls++;
      expired += swept.length;
      if (swept.length < BATCH) break;
    }
    const ms = performance.now() - start;
    if (profiler) await profiler.stop(process.env.BENCH_SWEEP_PROFILE);
    const selfCpu = process.cpuUsage(cpuBefore.self);
    const cpu = {
      nodeS: (selfCpu.user + selfCpu.system) / 1e6,
      etcdS: etcdPids.map((pid, i) => cpuS(pid) - (cpuBefore.etcd[i] ?? 0)),
    };
    const usage = await store.seatUsage(now);
    const inUse = usage.reduce((n, u) => n + u.inUse, 0);
    const proposals = gateway.batchStats.batches - batchesBefore;
    const phaseText = Object.entries(phases)
      .map(([k, p]) => `${k} ${p.calls} calls, busy ${p.busyMs.toFixed(0)} ms`)
      .join('; ');
    log(
      `round ${round}: ${N} checked out in ${fillS.toFixed(1)} s; swept ${expired} in ${ms.toFixed(0)} ms ` +
        `(${calls} calls, ${proposals} write transactions to etcd; ${phaseText}); CPU: this process ` +
        `${cpu.nodeS.toFixed(2)} s, etcd members ${cpu.etcdS.map((v) => v.toFixed(2)).join(' / ')} s; inUse after ${inUse}`,
    );
    results.push({ expired, ms, proposals, phases, cpu });
    await store.close();
  }
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  log(`median sweep of ${N}: ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms over ${ROUNDS} rounds`);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
