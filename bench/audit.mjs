// Audit trail figures (docs/audit.md): how fast the elected node seals pending records into the chain on
// each backend, and how long `verifyChain` takes. Run after `npm run build`:
//   node bench/audit.mjs            # SQLite only
//   BENCH_ETCD=1 node bench/audit.mjs   # also a 3-member etcd cluster on loopback (etcd 3.5, devtools)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '@leasehold/domain';
import { EtcdStore, SqliteStore } from '@leasehold/store';

const event = (i) => ({
  action: 'lease.granted',
  actor: `client:tok-${i % 17}`,
  subject: `lease:l-${i}`,
  time: 1_780_000_000_000 + i,
  node: 'bench',
  details: { license: 'lic-1', feature: 'solver', slot: i % 500, client: `c${i}` },
});

async function measure(name, store, count) {
  let started = performance.now();
  // Concurrent writers, as request handlers would be (SQLite batches them in group commits).
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, (_, j) => store.recordAudit(event(i + j))),
    );
  }
  const recordMs = performance.now() - started;
  started = performance.now();
  let sealed = 0;
  for (;;) {
    const result = await store.sealAudit(5000);
    sealed += result.sealed;
    if (result.sealed === 0) break;
  }
  const sealMs = performance.now() - started;
  started = performance.now();
  const entries = [];
  for (let after = 0; ; ) {
    const page = await store.auditEntries({ afterSeq: after, limit: 1000 });
    if (page.length === 0) break;
    entries.push(...page);
    after = page[page.length - 1].seq;
  }
  const readMs = performance.now() - started;
  started = performance.now();
  const verdict = verifyChain({ entries });
  const verifyMs = performance.now() - started;
  console.log(
    `${name}: ${count} pending records written in ${recordMs.toFixed(0)} ms; sealed ${sealed} in ${sealMs.toFixed(0)} ms ` +
      `(${((sealed / sealMs) * 1000).toFixed(0)}/s); read back in ${readMs.toFixed(0)} ms; verified (${verdict.ok}) in ${verifyMs.toFixed(0)} ms`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-audit-'));
try {
  const sqlite = new SqliteStore({
    path: join(dir, 'audit.db'),
    kek: randomBytes(32),
    licenseKeys: { vendorKeys: new Map() },
  });
  await measure('sqlite', sqlite, Number(process.env.BENCH_SQLITE_RECORDS ?? 50_000));
  await sqlite.close();
  if (process.env.BENCH_ETCD) {
    const { EtcdCluster } = await import('@leasehold/devtools');
    const cluster = await EtcdCluster.start({ members: 3, dataDir: join(dir, 'etcd') });
    try {
      await cluster.waitHealthy(15_000);
      const etcd = new EtcdStore({
        endpoints: cluster.clientUrls(),
        prefix: '/bench-audit/',
        kek: randomBytes(32),
        licenseKeys: { vendorKeys: new Map() },
      });
      await measure('etcd (3 members)', etcd, Number(process.env.BENCH_ETCD_RECORDS ?? 5_000));
      await etcd.close();
    } finally {
      await cluster.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
