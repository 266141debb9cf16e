import { randomBytes, randomUUID } from 'node:crypto';
import type { Lease } from '@leasehold/domain';
import { EtcdStore } from '@leasehold/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { client, LICENSE_KEYS, license, T0 } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

// Renewals that skip their read (lease-record-cache.ts): two nodes on one etcd, one of them changing a
// lease behind the other's cache. A stale entry must only cost the read it would have made anyway: the
// renewal answers exactly what it answers without a cache, and never renews a lease that ended elsewhere.
describe('read-free renewals from the lease record cache (real etcd)', () => {
  const opened: EtcdStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  /** Two nodes (stores) on one prefix, as two Leasehold nodes of one cluster. */
  async function twoNodes(leaseCacheSize?: number): Promise<[EtcdStore, EtcdStore]> {
    const endpoints = await etcdEndpoints();
    const prefix = `/lease-cache-${randomUUID()}/`;
    const kek = randomBytes(32);
    const open = (node: string) =>
      new EtcdStore({
        endpoints,
        prefix,
        kek,
        licenseKeys: LICENSE_KEYS,
        node,
        ...(leaseCacheSize === undefined ? {} : { leaseCacheSize }),
      });
    const a = open('a');
    const b = open('b');
    opened.push(a, b);
    return [a, b];
  }

  const checkout = async (store: EtcdStore, now = T0, feature = 'solver'): Promise<Lease> =>
    (
      await store.acquireSeat({
        leaseId: randomUUID(),
        requestId: randomUUID(),
        feature,
        client: client('c1'),
        now,
      })
    ).lease;

  /** The lease keys a store reads from now on (the reads a cached renewal skips). */
  const leaseReads = (store: EtcdStore): string[] => {
    const keys: string[] = [];
    const read = store.gateway.read.bind(store.gateway);
    vi.spyOn(store.gateway, 'read').mockImplementation((ops) => {
      for (const op of ops) if ('key' in op && op.key.startsWith(store.keys.lease(''))) keys.push(op.key);
      return read(ops);
    });
    return keys;
  };

  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'renewed',
      (err: { code?: string }) => err.code,
    );

  it('renews a lease it granted or renewed without reading it, and writes what a read renewal writes', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    const reads = leaseReads(a);
    const first = await a.renewLease({ leaseId: lease.id, now: T0 + 1000 });
    const second = await a.renewLease({ leaseId: lease.id, now: T0 + 2000 });
    expect(reads).toEqual([]);
    expect(a.leaseCacheStats).toMatchObject({ hits: 2, stale: 0 });
    expect([first.renewedAt, second.renewedAt, second.expiresAt]).toEqual([
      T0 + 1000,
      T0 + 2000,
      T0 + 62_000,
    ]);
    expect(second.fence).toBe(lease.fence);
    // The other node reads the record the cached renewal wrote: the same lease as the answer.
    expect(await b.getLease(lease.id)).toEqual(second);
  });

  it('a lease renewed on another node meanwhile: the compare fails, the renewal reads and still renews', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    await b.renewLease({ leaseId: lease.id, now: T0 + 5000 });
    const renewed = await a.renewLease({ leaseId: lease.id, now: T0 + 6000 });
    expect(a.leaseCacheStats).toMatchObject({ hits: 1, stale: 1 });
    expect(renewed.renewedAt).toBe(T0 + 6000);
    expect((await b.getLease(lease.id))?.renewedAt).toBe(T0 + 6000);
    // Its own write is cached again: the next renewal skips the read.
    const reads = leaseReads(a);
    await a.renewLease({ leaseId: lease.id, now: T0 + 7000 });
    expect(reads).toEqual([]);
  });

  it('never renews a lease released on another node', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    await a.renewLease({ leaseId: lease.id, now: T0 + 1000 }); // cached as renewed
    await b.releaseSeat({ leaseId: lease.id, now: T0 + 2000 });
    expect(await codeOf(a.renewLease({ leaseId: lease.id, now: T0 + 3000 }))).toBe('LEASE_RELEASED');
    expect(a.leaseCacheStats.stale).toBe(1);
    const stored = await b.getLease(lease.id);
    expect([stored?.endReason, stored?.renewedAt]).toEqual(['released', T0 + 1000]);
  });

  it('never renews a lease whose seat another node took over, even with a clock that says it still holds', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 1 } }), T0);
    const lease = await checkout(a);
    // Node b's clock is past the lease's deadline (60 s TTL, no grace): it takes the one seat over.
    const taker = await checkout(b, T0 + 61_000);
    // Node a's clock is behind: its cached copy says the lease still holds its seat; etcd says otherwise.
    expect(await codeOf(a.renewLease({ leaseId: lease.id, now: T0 + 30_000 }))).toBe('LEASE_EXPIRED');
    expect(a.leaseCacheStats).toMatchObject({ hits: 1, stale: 1 });
    expect((await b.getLease(lease.id))?.endReason).toBe('expired');
    const holder = await b.getLease(taker.id);
    expect([holder?.endReason, holder?.slot]).toEqual([undefined, lease.slot]);
  });

  it('a license revoked on another node: the cached licenses are not trusted, the renewal is refused', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    await b.revokeLicense('lic-1', T0 + 1000);
    expect(await codeOf(a.renewLease({ leaseId: lease.id, now: T0 + 2000 }))).toBe('LICENSE_REVOKED');
    expect(a.leaseCacheStats.stale).toBe(1);
    expect((await b.getLease(lease.id))?.renewedAt).toBe(T0);
  });

  it('concurrent renewals of one lease on one node all answer, and the record is one of them', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    const times = Array.from({ length: 8 }, (_, i) => T0 + 1000 * (i + 1));
    const renewed = await Promise.all(times.map((now) => a.renewLease({ leaseId: lease.id, now })));
    expect(renewed.map((l) => l.renewedAt)).toEqual(times);
    expect(times).toContain((await b.getLease(lease.id))?.renewedAt);
  });

  it("a many-lease renewal (the SDK's call) renews cached leases without a read and reads only for the rest", async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 5 } }), T0);
    const cached = [await checkout(a), await checkout(a), await checkout(a)];
    const elsewhere = await checkout(b); // a has never seen it
    const released = cached[2] as Lease;
    await b.releaseSeat({ leaseId: released.id, now: T0 + 500 }); // a's copy of it is stale
    const reads = leaseReads(a);
    const ids = [...cached, elsewhere].map((l) => l.id);
    const outcomes = await a.renewLeases(ids.map((leaseId) => ({ leaseId, now: T0 + 1000 })));
    expect(outcomes.map((o) => (o.ok ? 'renewed' : o.error.code))).toEqual([
      'renewed',
      'renewed',
      'LEASE_RELEASED',
      'renewed',
    ]);
    // Read: only the lease a had not cached and the one whose cached compare failed, in one read.
    expect(reads.sort()).toEqual([a.keys.lease(released.id), a.keys.lease(elsewhere.id)].sort());
    expect(a.leaseCacheStats).toMatchObject({ hits: 3, stale: 1 });
    for (const id of [cached[0]?.id, cached[1]?.id, elsewhere.id]) {
      expect((await b.getLease(id as string))?.renewedAt).toBe(T0 + 1000);
    }
    expect((await b.getLease(released.id))?.endReason).toBe('released');
    // Every renewed lease is cached now: the next many-lease renewal reads nothing.
    reads.length = 0;
    const again = await a.renewLeases(
      [cached[0], cached[1], elsewhere].map((l) => ({ leaseId: (l as Lease).id, now: T0 + 2000 })),
    );
    expect(again.every((o) => o.ok)).toBe(true);
    expect(reads).toEqual([]);
  });

  it('with the cache off (leaseCacheSize 0) every renewal reads first', async () => {
    const [a] = await twoNodes(0);
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    const lease = await checkout(a);
    const reads = leaseReads(a);
    await a.renewLease({ leaseId: lease.id, now: T0 + 1000 });
    expect(reads).toEqual([a.keys.lease(lease.id)]);
    expect(a.leaseCacheStats.hits).toBe(0);
  });
});
