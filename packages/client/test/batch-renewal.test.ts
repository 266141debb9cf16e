import type { Lease } from '@leasehold/client';
import { describe, expect, it } from 'vitest';
import { type Harness, harness } from './support/harness.js';

const BATCH = '/v1/leases/renew';

/** The renewal requests the cluster received from `since` on: the lease ids each one named. */
function renewalCalls(h: Harness, since = 0): { at: number; node: string; path: string; ids: string[] }[] {
  return h.cluster.requests
    .map((r, i) => ({ r, at: h.requestTimes[i] ?? -1 }))
    .filter(({ r, at }) => r.path.endsWith('/renew') && at >= since)
    .map(({ r, at }) => ({
      at,
      node: r.node,
      path: r.path,
      ids:
        r.path === BATCH
          ? ((r.body?.leases ?? []) as { id: string }[]).map((l) => l.id)
          : [decodeURIComponent(r.path.split('/')[3] ?? '')],
    }));
}

/** Three leases checked out 0, 5 and 12 s after start (TTL 60 s: each renews every 20 s on its own). */
async function threeLeases(h: Harness): Promise<Lease[]> {
  const leases = [await h.clock.run(h.client.checkout('app'))];
  await h.clock.advance(5_000);
  leases.push(await h.clock.run(h.client.checkout('app')));
  await h.clock.advance(7_000);
  leases.push(await h.clock.run(h.client.checkout('app')));
  return leases;
}

describe('renewing several leases in one call (manual clock)', () => {
  it('leases due soon join a renewal going out, and then renew together in one call', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 5 } });
    const leases = await threeLeases(h);
    await h.clock.advance(60_000 - 12_000);
    const calls = renewalCalls(h);
    // At 20 s the first lease is due and the second (15 s into its 20) joins; at 32 s the third is due and
    // the other two (12 s in) join; from then on the three renew together, once per 20 s.
    expect(calls.map((c) => [c.at, c.path === BATCH ? c.ids.length : 'alone'])).toEqual([
      [20_000, 2],
      [32_000, 3],
      [52_000, 3],
    ]);
    expect(calls[1]?.ids.sort()).toEqual(leases.map((l) => l.id).sort());
    for (const lease of leases) {
      expect(lease.status).toBe('active');
      // Each token was renewed at 52 s: it expires a TTL later.
      expect(lease.claims.exp * 1000).toBe(Date.UTC(2026, 0, 1) + 112_000);
    }
    expect(h.events.filter((e) => e.event === 'renewed')).toHaveLength(2 + 3 + 3);
    expect(h.names()).toEqual([]);
    expect(h.client.metrics().counters.renewals).toBe(8);
  });

  it('a lease the cluster refuses is lost alone; the others in the same call renew', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 5 } });
    const leases = await threeLeases(h);
    await h.clock.advance(20_000); // at 32 s all three go in one call
    h.cluster.revoke(leases[1]?.id ?? '');
    await h.clock.advance(20_000); // at 52 s: lease 2 answers LEASE_REVOKED
    expect(renewalCalls(h, 52_000).map((c) => c.ids.length)).toEqual([3]);
    expect(leases.map((l) => l.status)).toEqual(['active', 'closed', 'active']);
    const lost = h.events.filter((e) => e.event === 'lost');
    expect(lost.map((e) => (e.payload as { reason: string; lease: Lease }).reason)).toEqual(['revoked']);
    expect((lost[0]?.payload as { lease?: Lease } | undefined)?.lease).toBe(leases[1]);
    await h.clock.advance(20_000);
    expect(renewalCalls(h, 53_000).map((c) => c.ids.length)).toEqual([2]);
  });

  it('a node that cannot renew them moves the whole call to the next node', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 5 }, nodes: 2 });
    const leases = await threeLeases(h);
    await h.clock.advance(20_000); // at 32 s all three go in one call, to the node in use
    const used = renewalCalls(h).at(-1)?.node as string;
    h.cluster.node(used).failNext('STORE_UNAVAILABLE', 1);
    await h.clock.advance(20_000); // at 52 s: that node fails the call, the other renews all three
    const calls = renewalCalls(h, 52_000);
    expect(calls.map((c) => [c.node === used, c.ids.length])).toEqual([
      [true, 3],
      [false, 3],
    ]);
    expect(leases.map((l) => l.status)).toEqual(['active', 'active', 'active']);
    expect(h.names()).toEqual(['failover']);
  });

  it('an older server without the route: one 404, then lease by lease, and every lease stays active', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 5 }, batchRenewals: false });
    const leases = await threeLeases(h);
    await h.clock.advance(100_000 - 12_000);
    const calls = renewalCalls(h);
    expect(calls.filter((c) => c.path === BATCH).map((c) => c.at)).toEqual([20_000]);
    expect(calls.filter((c) => c.path !== BATCH).every((c) => c.ids.length === 1)).toBe(true);
    for (const lease of leases) expect(lease.status).toBe('active');
    expect(h.names()).toEqual([]);
    // Each lease renewed on its own schedule (every 20 s from its checkout) once the route was known missing.
    const byLease = (id: string) => calls.filter((c) => c.path !== BATCH && c.ids[0] === id).map((c) => c.at);
    expect(byLease(leases[2]?.id ?? '')).toEqual([32_000, 52_000, 72_000, 92_000]);
  });
});

describe('renewals go back to the node that served the lease last (lease affinity)', () => {
  /** A fixed cycle for the balancer's random draws, so that its usual picks move between nodes. */
  const cycling = () => {
    let i = 0;
    const draws = [0.1, 0.7, 0.4, 0.9, 0.2, 0.6, 0.8, 0.3];
    return { random: () => draws[i++ % draws.length] as number };
  };

  /** The node each checkout went to, in order (the leases were checked out one after another). */
  const checkoutNodes = (h: Harness) =>
    h.cluster.requests.filter((r) => r.method === 'POST' && r.path === '/v1/leases').map((r) => r.node);

  it('one-by-one renewals: every renewal of a lease goes to the node that granted it', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 9 }, batchRenewals: false }, cycling());
    const leases: Lease[] = [];
    for (let i = 0; i < 6; i++) leases.push(await h.clock.run(h.client.checkout('app')));
    const granted = new Map(leases.map((l, i) => [l.id, checkoutNodes(h)[i]]));
    // Six grants over three nodes by the usual pick: spread, not all on one node.
    expect(new Set(granted.values()).size).toBeGreaterThan(1);
    await h.clock.advance(65_000); // three renewals of each lease
    // (The first many-lease call, answered 404 by this older-version cluster, is not a lease's renewal.)
    const calls = renewalCalls(h).filter((c) => c.path !== BATCH);
    expect(calls.length).toBeGreaterThanOrEqual(12);
    for (const call of calls) expect(call.node).toBe(granted.get(call.ids[0] ?? ''));
  });

  it('many-lease renewals: after the first call, the call goes where the leases were renewed last', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 9 } }, cycling());
    const leases = await threeLeases(h);
    await h.clock.advance(60_000);
    const calls = renewalCalls(h).filter((c) => c.path === BATCH);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const [i, call] of calls.entries()) if (i > 0) expect(call.node).toBe(calls[i - 1]?.node);
    expect(leases.every((l) => l.status === 'active')).toBe(true);
  });

  it('a preferred node that is down loses the preference: the renewal fails over as any call', async () => {
    const h = await harness({ ttlSeconds: 60, features: { app: 9 }, batchRenewals: false });
    const lease = await h.clock.run(h.client.checkout('app'));
    const granter = checkoutNodes(h)[0] as string;
    h.cluster.node(granter).mode = 'down';
    await h.clock.advance(21_000);
    const calls = renewalCalls(h);
    expect(calls.at(-1)?.node).not.toBe(granter);
    expect(lease.status).toBe('active');
    // From then on it goes back to the node that renewed it.
    const renewer = calls.at(-1)?.node;
    h.cluster.node(granter).mode = 'up';
    await h.clock.advance(20_000);
    expect(renewalCalls(h).at(-1)?.node).toBe(renewer);
  });
});
