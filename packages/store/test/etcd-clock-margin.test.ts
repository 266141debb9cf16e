import { randomBytes, randomUUID } from 'node:crypto';
import { ClusterSeatHandOver, ManualClock } from '@leasehold/domain';
import { EtcdMembership, EtcdStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode } from './contract/contract-support.js';
import { client, LICENSE_KEYS, license, T0 } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';
import { testMembership } from './support/test-membership.js';

/**
 * The cluster clock margin on real etcd (docs/ha.md "Expiry", "Nodes configured with different
 * margins"): every node hands seats over after the widest margin any node of the cluster was configured
 * with, and that margin is kept in etcd, so it outlives the node that brought it. The case that a margin
 * learned only from live nodes gets wrong (found in review): a node configured wider grants a lease and
 * leaves, then a node configured narrower (re)starts while that lease is still live.
 *
 * Each "node process" here is a store, a membership and a ClusterSeatHandOver wired as leasehold-node.ts
 * wires them: the margin is raised and read (ClusterClockMargin.refresh) before the node serves.
 */
const WIDE_MS = 2000;
const TTL_MS = 60_000;
const R = T0 + TTL_MS;
/** One cluster: every node process has the same key-encryption key. */
const KEK = randomBytes(32);

let endpoints: string[];
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  endpoints = await etcdEndpoints();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

function nodeProcess(prefix: string, configuredMs: number) {
  const handOver = new ClusterSeatHandOver(configuredMs);
  const store = new EtcdStore({ endpoints, prefix, kek: KEK, licenseKeys: LICENSE_KEYS, handOver });
  const membership = testMembership(store, endpoints, new ManualClock(T0));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await store.close();
  };
  closers.push(close);
  return {
    handOver,
    store,
    membership,
    /** As ClusterClockMargin.refresh: raise the recorded margin to this node's own, take it in. */
    refresh: async () => handOver.settle(await membership.clockMargin(configuredMs)),
    close,
  };
}

const take = (store: EtcdStore, requestId: string, now: number) =>
  store.acquireSeat({ leaseId: randomUUID(), requestId, feature: 'solver', client: client('c2'), now });

describe('the cluster clock margin, recorded in etcd', () => {
  it("keeps a departed wide node's margin for a narrow node that restarts while its lease is live", async () => {
    const prefix = `/margin-restart-${randomUUID()}/`;
    const wide = nodeProcess(prefix, WIDE_MS);
    await wide.refresh();
    await wide.store.installLicense(await license({ seats: { solver: 1 } }), T0);
    const { lease } = await wide.store.acquireSeat({
      leaseId: randomUUID(),
      requestId: 'holder',
      feature: 'solver',
      client: client('c1'),
      now: T0,
    });
    expect(lease.reservedUntil).toBe(R);
    // The wide node is gone (its process and any membership record with it) before the narrow one starts.
    await wide.close();

    const narrow = nodeProcess(prefix, 0);
    // Before its first read, the narrow node holds seats for the widest margin any node accepts.
    await expectCode(take(narrow.store, 'before-read', R + WIDE_MS + 1), 'SEATS_EXHAUSTED');
    await narrow.refresh();
    expect(narrow.handOver.maxClockSkewMs).toBe(WIDE_MS);
    await expectCode(take(narrow.store, 'early', R + 1), 'SEATS_EXHAUSTED');
    await expectCode(take(narrow.store, 'still-early', R + WIDE_MS - 1), 'SEATS_EXHAUSTED');

    // It restarts: the recorded margin is still there.
    await narrow.close();
    const restarted = nodeProcess(prefix, 0);
    await restarted.refresh();
    expect(restarted.handOver.maxClockSkewMs).toBe(WIDE_MS);
    await expectCode(take(restarted.store, 'after-restart', R + 1), 'SEATS_EXHAUSTED');
    const { lease: taken } = await take(restarted.store, 'on-time', R + WIDE_MS);
    expect(taken.slot).toBe(lease.slot);
  });

  it('is raised to the widest of nodes raising at once, and only an operator lowers it', async () => {
    const prefix = `/margin-race-${randomUUID()}/`;
    const margins = [0, 700, 1500, 300, 1500, 1200];
    const nodes = margins.map((ms) => nodeProcess(prefix, ms));
    await Promise.all(nodes.map((n) => n.refresh()));
    // Each read happened at some point of the race; one more round and everyone has the final record.
    await Promise.all(nodes.map((n) => n.refresh()));
    expect(nodes.map((n) => n.handOver.maxClockSkewMs)).toEqual(margins.map(() => 1500));

    // An operator lowers the record (docs/ha.md: after reconfiguring every node): nodes take it at their
    // next refresh, never below their own configuration, and a node configured wider raises it again.
    const [n0, , n1500, n300, , n1200] = nodes;
    if (!n0 || !n1500 || !n300 || !n1200) throw new Error('missing nodes');
    await n0.store.gateway.txn([], [{ put: n0.store.keys.clockMargin(), value: '500' }]);
    await n0.refresh();
    await n300.refresh();
    expect([n0.handOver.maxClockSkewMs, n300.handOver.maxClockSkewMs]).toEqual([500, 500]);
    await n1200.refresh();
    await n0.refresh();
    expect([n1200.handOver.maxClockSkewMs, n0.handOver.maxClockSkewMs]).toEqual([1200, 1200]);
    await n1500.refresh();
    await n0.refresh();
    expect(n0.handOver.maxClockSkewMs).toBe(1500);
  });

  it('answers STORE_UNAVAILABLE while etcd is unreachable (a node starting first retries on it)', async () => {
    const handOver = new ClusterSeatHandOver(0);
    const store = new EtcdStore({
      endpoints: ['http://127.0.0.1:1'],
      prefix: `/margin-away-${randomUUID()}/`,
      kek: KEK,
      licenseKeys: LICENSE_KEYS,
      handOver,
    });
    closers.push(async () => store.close());
    const membership = testMembership(store, ['http://127.0.0.1:1'], new ManualClock(T0));
    await expectCode(membership.clockMargin(0), 'STORE_UNAVAILABLE');
    expect(handOver.known).toBe(false);
  });

  it('replaces a recorded value that is not a margin', async () => {
    const prefix = `/margin-garbage-${randomUUID()}/`;
    const node = nodeProcess(prefix, 800);
    await node.store.gateway.txn([], [{ put: node.store.keys.clockMargin(), value: 'soon' }]);
    await node.refresh();
    expect(node.handOver.maxClockSkewMs).toBe(800);
    const kv = (await node.store.gateway.read([{ key: node.store.keys.clockMargin() }])).results[0]?.[0];
    expect(kv?.value.toString()).toBe('800');
  });
});
