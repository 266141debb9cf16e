// What the Prometheus metrics cost on the embedded checkout path: the same node API over SQLite, once
// with its metrics (request hooks, latency window, measured store) and once with a NodeMetrics whose
// recording is switched off, driven by inject() in one process so that only the metrics differ.
// Runs alternate (A B A B …) so that drift on a shared machine hits both alike; medians of the runs.
//
//   npm run build && node bench/metrics-overhead.mjs
//   BENCH_CHECKOUTS=5000 BENCH_RUNS=5 node bench/metrics-overhead.mjs
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor } from '@leasehold/devtools';
import { systemClock } from '@leasehold/domain';
import { buildApp, ClusterKeyring, ensureAdminToken, NodeMetrics } from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';

const CHECKOUTS = Number(process.env.BENCH_CHECKOUTS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ADMIN = `lh_admin_${'b'.repeat(43)}`;

/** Metrics that record nothing: the hooks still run, the store is not wrapped. */
class SilentMetrics extends NodeMetrics {
  observeRequest() {}
  meterStore(store) {
    return store;
  }
}

async function makeNode(label, metricsClass) {
  const dir = mkdtempSync(join(tmpdir(), `leasehold-bench-${label}-`));
  const kek = createHash('sha256').update(`bench ${label}`).digest();
  const vendor = await makeVendor();
  const licenseKeys = { vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]) };
  const store = new SqliteStore({ path: join(dir, 'leasehold.db'), kek, synchronous: 'NORMAL', licenseKeys });
  const clock = systemClock;
  const keyring = await ClusterKeyring.load(store, clock.now());
  await ensureAdminToken(store, dir, ADMIN, clock, randomUUID);
  const metrics = new metricsClass({ nodeId: label, version: 'bench', store: 'sqlite', clock });
  const app = await buildApp({
    store,
    clock,
    keyring,
    licenseKeys,
    newId: randomUUID,
    nodeId: label,
    version: 'bench',
    metrics,
  });
  const license = await vendor.issue({
    lid: 'bench',
    customer: 'Bench',
    product: 'bench',
    features: { solver: { seats: 1_000_000 } },
    exp: Math.floor(Date.now() / 1000) + 86_400,
    lease: { ttl: 3600, grace: 0, policy: 'strict' },
  });
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const installed = await app.inject({ method: 'POST', url: '/v1/licenses', headers, payload: { license } });
  if (installed.statusCode !== 201) throw new Error(`install: ${installed.body}`);
  return {
    label,
    async run(n) {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/leases',
          headers,
          payload: { feature: 'solver', client: { id: `c${i % 100}` }, requestId: randomUUID() },
        });
        if (res.statusCode !== 201) throw new Error(`checkout: ${res.body}`);
      }
      return (performance.now() - started) / n;
    },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const withMetrics = await makeNode('metrics', NodeMetrics);
const without = await makeNode('silent', SilentMetrics);
try {
  await withMetrics.run(300); // warm-up: JIT, SQLite page cache
  await without.run(300);
  const ms = { metrics: [], silent: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const node of r % 2 === 0 ? [withMetrics, without] : [without, withMetrics]) {
      ms[node.label].push(await node.run(CHECKOUTS));
    }
  }
  const a = median(ms.metrics);
  const b = median(ms.silent);
  console.log(`checkouts per run: ${CHECKOUTS}, runs: ${RUNS} (alternating), SQLite synchronous=NORMAL`);
  console.log(
    `with metrics:    median ${(a * 1000).toFixed(1)} µs/checkout  runs ${ms.metrics.map((x) => (x * 1000).toFixed(1)).join(' ')}`,
  );
  console.log(
    `without metrics: median ${(b * 1000).toFixed(1)} µs/checkout  runs ${ms.silent.map((x) => (x * 1000).toFixed(1)).join(' ')}`,
  );
  console.log(`overhead: ${((a - b) * 1000).toFixed(1)} µs/checkout (${(((a - b) / b) * 100).toFixed(1)}%)`);

  // The instrumentation alone, without the rest of the request: the per-request hook's recording and
  // the measured store's wrapper around a real (cheap) SQLite read.
  const metrics = new NodeMetrics({ nodeId: 'micro', version: 'bench', store: 'sqlite', clock: systemClock });
  const hook = [];
  for (let r = 0; r < RUNS; r++) {
    const n = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) metrics.observeRequest('POST', '/v1/leases', 201, 1.2);
    hook.push(((performance.now() - t0) * 1000) / n);
  }
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-store-'));
  const raw = new SqliteStore({
    path: join(dir, 'leasehold.db'),
    kek: createHash('sha256').update('x').digest(),
    licenseKeys: { vendorKeys: new Map() },
  });
  const metered = metrics.meterStore(raw);
  const store = { raw: [], metered: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const [label, s] of [
      ['raw', raw],
      ['metered', metered],
    ]) {
      const n = 50_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await s.getLease('none');
      store[label].push(((performance.now() - t0) * 1000) / n);
    }
  }
  await raw.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`observeRequest (counter + histogram + window): median ${median(hook).toFixed(2)} µs/call`);
  console.log(
    `store getLease: raw ${median(store.raw).toFixed(2)} µs, measured ${median(store.metered).toFixed(2)} µs ` +
      `(wrapper ${(median(store.metered) - median(store.raw)).toFixed(2)} µs/op)`,
  );
} finally {
  await withMetrics.close();
  await without.close();
}
