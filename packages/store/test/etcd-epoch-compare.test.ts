import { randomBytes, randomUUID } from 'node:crypto';
import type { Lease } from '@leasehold/domain';
import { EtcdStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../src/etcd/keyspace.js';
import { conflicts, footprintOf } from '../src/etcd/txn-footprint.js';
import { client, LICENSE_KEYS, license, T0 } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

// Every lease write on etcd compares the fencing epoch in its own transaction (etcd-epoch.ts). Two nodes
// (stores) on one prefix: node A fences or promotes, node B has just written (its copy of the epoch is
// fresh), and B's next lease writes must answer what the epoch rules say at once. Before, B checked a
// copy up to 1 s old and granted, renewed and released through that second.
describe('lease writes compare the fencing epoch in their own transaction (real etcd)', () => {
  const opened: EtcdStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function twoNodes(): Promise<[EtcdStore, EtcdStore]> {
    const endpoints = await etcdEndpoints();
    const prefix = `/epoch-compare-${randomUUID()}/`;
    const kek = randomBytes(32);
    const open = (node: string) => new EtcdStore({ endpoints, prefix, kek, licenseKeys: LICENSE_KEYS, node });
    const a = open('a');
    const b = open('b');
    opened.push(a, b);
    return [a, b];
  }

  const checkout = async (store: EtcdStore, now = T0): Promise<Lease> =>
    (
      await store.acquireSeat({
        leaseId: randomUUID(),
        requestId: randomUUID(),
        feature: 'solver',
        client: client('c1'),
        now,
      })
    ).lease;

  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'written',
      (err: { code?: string }) => err.code,
    );

  /** The mod revision of one key as etcd has it now (0: absent). */
  const modRevision = async (store: EtcdStore, key: string): Promise<number> =>
    (await store.gateway.read([{ key }])).results[0]?.[0]?.modRevision ?? 0;

  it('a fence through node A refuses every lease write of node B at once, its fresh copy notwithstanding', async () => {
    const [a, b] = await twoNodes();
    // Over 64 seats: B's checkouts take the read-free (blind) path, its renewals the cached one.
    await a.installLicense(await license({ seats: { solver: 100 } }), T0);
    const leases: Lease[] = [];
    for (let i = 0; i < 5; i++) leases.push(await checkout(b, T0 + i));
    const [one, two, three, four, five] = leases as [Lease, Lease, Lease, Lease, Lease];
    // B's copy of the epoch is fresh (it just wrote under it) and its leases cached.
    await b.renewLease({ leaseId: one.id, now: T0 + 100 });
    const { hits, stale } = b.leaseCacheStats;

    await a.fenceEpoch({ epoch: 2, primary: 'https://dr:7300', now: T0 + 200 });
    const fencedAt = await modRevision(a, a.keys.epoch());
    expect(fencedAt).toBeGreaterThan(0);

    // The renewal goes read-free under B's copy: its epoch compare fails, it reads, the rules refuse.
    expect(await codeOf(b.renewLease({ leaseId: one.id, now: T0 + 300 }))).toBe('PRIMARY_FENCED');
    expect(b.leaseCacheStats).toMatchObject({ hits: hits + 1, stale: stale + 1 });
    expect(await codeOf(checkout(b, T0 + 300))).toBe('PRIMARY_FENCED');
    const many = await b.renewLeases([two, three].map((l) => ({ leaseId: l.id, now: T0 + 300 })));
    expect(many.map((o) => (o.ok ? 'renewed' : o.error.code))).toEqual(['PRIMARY_FENCED', 'PRIMARY_FENCED']);
    expect(await codeOf(b.releaseSeat({ leaseId: four.id, now: T0 + 300 }))).toBe('PRIMARY_FENCED');
    expect(await codeOf(b.forceRelease({ leaseId: five.id, now: T0 + 300, immediate: true }))).toBe(
      'PRIMARY_FENCED',
    );
    const block = b.holdSeatBlock({
      site: 'edge-1',
      licenseId: 'lic-1',
      feature: 'solver',
      seats: 2,
      holdMs: 60_000,
      requestId: randomUUID(),
      now: T0 + 300,
      newLeaseId: randomUUID,
    });
    expect(await codeOf(block)).toBe('PRIMARY_FENCED');
    // The refusal names the new primary, as the epoch rules say.
    const err = await checkout(b, T0 + 300).catch((e: { details?: unknown }) => e);
    expect((err as { details?: unknown }).details).toMatchObject({ primary: 'https://dr:7300', epoch: 2 });

    // Nothing B did after the fence reached etcd: every lease record is as it was before the fence.
    for (const lease of leases) {
      expect(await modRevision(a, a.keys.lease(lease.id))).toBeLessThan(fencedAt);
      expect((await a.getLease(lease.id))?.endReason).toBeUndefined();
    }
    expect((await a.seatUsage(T0 + 300)).find((u) => u.feature === 'solver')?.inUse).toBe(5);
  });

  it('a promotion through node A holds node B’s new grants at once and still serves its renewals', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 100 } }), T0);
    const lease = await checkout(b);
    await b.renewLease({ leaseId: lease.id, now: T0 + 100 });
    await a.promoteEpoch({ now: T0 + 200, learningMs: 60_000, supersedes: 'https://p:7300' });

    // A renewal is allowed under the new epoch: its cached write fails the epoch compare, reads, renews.
    const stale = b.leaseCacheStats.stale;
    expect((await b.renewLease({ leaseId: lease.id, now: T0 + 300 })).renewedAt).toBe(T0 + 300);
    expect(b.leaseCacheStats.stale).toBe(stale + 1);
    const learning = await checkout(b, T0 + 400).catch((e: { code?: string; details?: unknown }) => e);
    expect((learning as { code?: string }).code).toBe('PROMOTION_LEARNING');
    expect((learning as { details?: unknown }).details).toMatchObject({
      epoch: 2,
      learningUntil: T0 + 60_200,
    });
    expect((await b.renewLeases([{ leaseId: lease.id, now: T0 + 500 }]))[0]?.ok).toBe(true);
    expect((await b.releaseSeat({ leaseId: lease.id, now: T0 + 600 })).endReason).toBe('released');
    // Learning ends to the millisecond on B as well.
    expect((await checkout(b, T0 + 60_200)).feature).toBe('solver');
  });

  it('checkouts racing a fence: none of node B’s writes commits after the fence’s revision', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 1000 } }), T0);
    await checkout(b); // B's copies (licenses, epoch) warm: its checkouts go read-free
    const granted: Lease[] = [];
    const refusals: string[] = [];
    let fence: Promise<unknown> | undefined;
    // Eight workers on B check out one after another (at most 60 each) until refused; after the 40th
    // grant, node A fences. Their transactions share group-commit batches with each other.
    const worker = async () => {
      for (let i = 0; i < 60; i++) {
        try {
          granted.push(await checkout(b, T0 + 1000));
        } catch (err) {
          refusals.push((err as { code?: string }).code ?? String(err));
          return;
        }
        if (granted.length >= 40 && !fence) {
          fence = a.fenceEpoch({ epoch: 2, primary: 'https://dr:7300', now: T0 + 1000 });
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await fence;
    expect(fence).toBeDefined();
    // Every worker was stopped by the fence, with the fence's own answer (no conflict loop, no 503).
    expect(refusals).toEqual(Array.from({ length: 8 }, () => 'PRIMARY_FENCED'));
    const fencedAt = await modRevision(a, a.keys.epoch());
    expect(granted.length).toBeGreaterThanOrEqual(40);
    for (const lease of granted) {
      expect(lease.fence).toBeLessThan(fencedAt);
      expect(await modRevision(a, a.keys.lease(lease.id))).toBeLessThan(fencedAt);
    }
    // And no lease record or slot at all was written after the fence (B's failed attempts wrote nothing).
    const { results } = await a.gateway.read([{ prefix: a.keys.leases() }, { prefix: a.keys.slots() }]);
    const [records = [], slots = []] = results;
    expect(records.filter((kv) => kv.modRevision > fencedAt)).toEqual([]);
    expect(slots.filter((kv) => kv.modRevision > fencedAt)).toEqual([]);
    expect(slots.length).toBe(granted.length + 1);
  });

  it('in one group-commit batch, a write whose epoch compare fails does not fail its neighbour', async () => {
    const [a, b] = await twoNodes();
    await a.installLicense(await license({ seats: { solver: 3 } }), T0);
    await checkout(b);
    const before = await modRevision(b, b.keys.epoch());
    await a.fenceEpoch({ epoch: 2, primary: 'https://dr:7300', now: T0 });
    const now = await modRevision(b, b.keys.epoch());
    const epochAt = (equals: number) => ({ key: b.keys.epoch(), target: 'Mod' as const, equals });
    const batches = b.gateway.batchStats.batches;
    const [stale, fresh] = await Promise.all(
      b.gateway.txnMany([
        { compare: [epochAt(before)], writes: [{ put: `${b.keys.prefix}test/stale`, value: 'x' }] },
        { compare: [epochAt(now)], writes: [{ put: `${b.keys.prefix}test/fresh`, value: 'y' }] },
      ]),
    );
    expect(b.gateway.batchStats.batches).toBe(batches + 1); // one etcd transaction for both
    expect([stale?.succeeded, fresh?.succeeded]).toEqual([false, true]);
    expect(await modRevision(b, `${b.keys.prefix}test/stale`)).toBe(0);
    expect(await modRevision(b, `${b.keys.prefix}test/fresh`)).toBe(fresh?.revision);
  });
});

describe('the epoch compare in group-commit footprints', () => {
  const keys = new Keyspace('/p/');
  const epochCompare = { key: keys.epoch(), target: 'Mod' as const, equals: 7 };
  const renewal = (id: string) =>
    footprintOf(
      [epochCompare, { key: keys.lease(id), target: 'Mod', equals: 5 }],
      [{ put: keys.lease(id), value: '{}' }],
      [],
    );

  it('lease writes that only compare the epoch share a batch; a fence, which writes it, shares none with them', () => {
    expect(conflicts(renewal('a'), renewal('b'))).toBe(false);
    const fence = footprintOf([epochCompare], [{ put: keys.epoch(), value: '{}' }], []);
    expect(conflicts(fence, renewal('a'))).toBe(true);
    expect(conflicts(renewal('b'), fence)).toBe(true);
  });
});
