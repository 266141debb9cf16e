import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, makeVendor } from '@leasehold/devtools';
import { type License, ManualClock, verifyStoredLicense } from '@leasehold/domain';
import { LeaseSweeper } from '@leasehold/server/internal';
import { EtcdStore, type LeaseStore, SqliteStore } from '@leasehold/store';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLog } from '../helpers/test-keeper.js';

/**
 * Issue 14, item 3: the node's sweeper, on a manual clock, over both backends. It expires each lease at
 * the first tick at or past its deadline and no earlier, follows renewals (the index moves with them),
 * and on etcd reads the overdue range of the deadline index only — no prefix read of every live lease.
 * (SQLite's side of "only the index" is its query plan: store/test/sqlite-deadline-index.test.ts.)
 */
const T0 = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'leasehold-deadline-sweeper-'));
let etcd: Promise<EtcdCluster> | undefined;
afterAll(async () => {
  await (await etcd)?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Signed by a vendor the stores trust: they re-verify every license they load (issue 11).
const vendor = await makeVendor(T0);
const licenseKeys = { vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]) };
const license: License = await verifyStoredLicense(
  await vendor.issue({
    lid: 'lic-1',
    features: { solver: { seats: 500 } },
    lease: { ttl: 10, grace: 0, policy: 'strict' },
  } as Parameters<typeof vendor.issue>[0]),
  licenseKeys,
);

const backends: Record<string, () => Promise<LeaseStore>> = {
  sqlite: async () =>
    new SqliteStore({ path: join(dir, `${randomUUID()}.db`), kek: randomBytes(32), licenseKeys }),
  etcd: async () => {
    etcd ??= (async () => {
      const cluster = await EtcdCluster.start({ members: 3, dataDir: join(dir, 'etcd') });
      await cluster.waitHealthy(15_000);
      return cluster;
    })();
    const endpoints = (await etcd).clientUrls();
    return new EtcdStore({
      endpoints,
      prefix: `/sweeper-${randomUUID()}/`,
      kek: randomBytes(32),
      licenseKeys,
    });
  },
};

describe.each(Object.keys(backends))('the deadline-index sweeper on %s (manual clock)', (backend) => {
  it('expires each lease at the first tick past its deadline, follows renewals, reads the index only', async () => {
    const clock = new ManualClock(T0);
    const store = await (backends[backend] as () => Promise<LeaseStore>)();
    const sweeper = new LeaseSweeper(store, clock, silentLog, { intervalMs: 1000, retentionMs: 60_000 });
    try {
      await store.installLicense(license, T0);
      const checkout = async (name: string) =>
        (
          await store.acquireSeat({
            leaseId: randomUUID(),
            requestId: name,
            feature: 'solver',
            client: { id: name },
            now: clock.now(),
          })
        ).lease;
      // 100 leases that stay live (renewed), and three granted 0.5 s apart that are left to lapse.
      const kept = [];
      for (let i = 0; i < 100; i++) kept.push(await checkout(`kept-${i}`));
      const lapsing = [];
      for (const name of ['a', 'b', 'c']) {
        lapsing.push(await checkout(name));
        await clock.advance(500); // no sweeper yet: nothing is due
      }
      const state = async (id: string) => (await store.getLease(id))?.endReason;
      // One interval, then the sweep it started to its end (etcd is real I/O; a tick during a sweep is skipped).
      const step = async () => {
        await clock.advance(1000);
        await sweeper.settled();
      };
      sweeper.start();
      // At T0 + 1.5 s; a lapses at T0 + 10 s, b at + 10.5 s, c at + 11 s. kept renew at + 8.5 s (to + 18.5 s).
      for (let i = 0; i < 7; i++) await step();
      const renewed = await store.renewLeases(kept.map((l) => ({ leaseId: l.id, now: clock.now() })));
      expect(renewed.every((o) => o.ok)).toBe(true);
      await step(); // T0 + 9.5 s: nothing is due
      expect(await Promise.all(lapsing.map((l) => state(l.id)))).toEqual([undefined, undefined, undefined]);

      // Every store read from here on, on etcd: the sweeps must not read every live lease.
      const reads: string[] = [];
      if (store instanceof EtcdStore) {
        const original = store.gateway.read.bind(store.gateway);
        store.gateway.read = async (ops) => {
          const answer = await original(ops);
          ops.forEach((op, i) => {
            reads.push(`${JSON.stringify(op)} -> ${answer.results[i]?.length ?? 0}`);
          });
          return answer;
        };
      }
      await step(); // T0 + 10.5 s: a and b are due (b exactly at its deadline)
      expect(await Promise.all(lapsing.map((l) => state(l.id)))).toEqual(['expired', 'expired', undefined]);
      await step(); // T0 + 11.5 s: c
      expect(await state(lapsing[2]?.id ?? '')).toBe('expired');
      await step();
      if (store instanceof EtcdStore) {
        expect(reads.some((r) => r.includes('"prefix"'))).toBe(false);
        const keysRead = reads.reduce((n, r) => n + Number(r.split(' -> ')[1]), 0);
        expect(keysRead, reads.join('\n')).toBeLessThanOrEqual(20); // 3 index entries, 3 records, the checks' reads; 100 live leases unread
      }
      expect((await store.listLeases({ now: clock.now() })).length).toBe(100);
      for (let i = 0; i < 7; i++) await step(); // T0 + 19.5 s: the renewed ones lapsed at + 18.5 s
      expect((await store.listLeases({ now: clock.now() })).length).toBe(0);
      expect((await store.listLeases({ now: clock.now(), includeEnded: true, limit: 200 })).length).toBe(103);
      expect(await Promise.all(kept.map((l) => state(l.id)))).toEqual(kept.map(() => 'expired'));
    } finally {
      await sweeper.stop();
      await store.close();
    }
    expect(clock.pendingTimers).toBe(0);
  }, 60_000);
});
