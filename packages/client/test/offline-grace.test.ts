import { describe, expect, it } from 'vitest';
import { harness, renewalTimes } from './support/harness.js';

const DAY = 86_400_000;
// TTL 60 s, grace 300 s: a token granted at t = 0 expires at 60 s; the grace ends at 360 s.
const TTL = 60_000;
const GRACE = 300_000;

describe('offline grace (manual clock)', () => {
  it('stays unlocked while no node answers until expiry plus the signed grace, then is lost', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('hang');

    await h.clock.advance(20_000 + 9_000); // the first renewal: three nodes × 3 s timeout
    expect(lease.status).toBe('degraded');
    const degraded = h.events.find((e) => e.event === 'degraded');
    expect(degraded?.at).toBe(29_000);
    expect(degraded?.payload).toMatchObject({ entitledForMs: TTL + GRACE - 29_000 });
    expect(lease.entitledUntil?.getTime()).toBe(h.clock.now() + TTL + GRACE - 29_000);

    await h.clock.advance(TTL + GRACE - 1 - 29_000);
    expect(h.client.isEntitled('app')).toBe(true);
    await h.clock.advance(1);
    expect(h.client.isEntitled('app')).toBe(false);
    expect(lease.status).toBe('lost');
    const lost = h.events.find((e) => e.event === 'lost');
    expect(lost?.at).toBe(TTL + GRACE);
    expect(lost?.payload).toMatchObject({ reason: 'unreachable', final: false });
    expect(h.names()).toEqual(['degraded', 'lost']);
  });

  it('is not extended by a wall clock set back two days during the outage', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('down');
    await h.clock.advance(100_000);
    expect(lease.status).toBe('degraded');
    h.clock.jumpWall(-2 * DAY);
    await h.clock.advance(TTL + GRACE - 100_000 - 1);
    expect(h.client.isEntitled('app')).toBe(true);
    await h.clock.advance(1);
    expect(h.client.isEntitled('app')).toBe(false);
    expect(h.events.find((e) => e.event === 'lost')?.at).toBe(TTL + GRACE);
  });

  it('is not extended by a wall clock set back before the outage either', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.clock.jumpWall(-2 * DAY);
    await h.clock.advance(30_000); // one renewal at 20 s, with the clock two days back
    expect(renewalTimes(h)).toEqual([20_000]);
    h.cluster.setAllModes('down');
    await h.clock.advance(20_000 + TTL + GRACE - 30_000 - 1);
    expect(lease.entitled).toBe(true);
    await h.clock.advance(1);
    expect(lease.entitled).toBe(false);
    expect(h.events.find((e) => e.event === 'lost')?.at).toBe(20_000 + TTL + GRACE);
  });

  it('ends early, never late, when the wall clock runs ahead of the monotonic one (a suspended laptop)', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('down');
    await h.clock.advance(30_000);
    // Linux's monotonic clock stops during suspend; the wall clock does not.
    h.clock.jumpWall(DAY);
    expect(lease.entitled).toBe(false);
    await h.clock.advance(0);
    expect(h.names()).toEqual(['degraded', 'lost']);
  });

  it('takes the grace from the signed token, not from the answer around it', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    for (const url of h.cluster.urls) {
      h.cluster.node(url).rewriteAnswer = (body) => ({ ...body, graceSeconds: 30 * 86_400 });
    }
    const lease = await h.clock.run(h.client.checkout('app'));
    expect(lease.graceSeconds).toBe(30 * 86_400); // what the node said
    expect(lease.claims.grace).toBe(300); // what the cluster signed
    h.cluster.setAllModes('down');
    await h.clock.advance(TTL + GRACE);
    expect(lease.entitled).toBe(false);
    expect(h.events.find((e) => e.event === 'lost')?.at).toBe(TTL + GRACE);
  });

  it('renews the same lease when nodes come back within the reservation', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300, policy: 'strict' });
    const lease = await h.clock.run(h.client.checkout('app'));
    const id = lease.id;
    h.cluster.setAllModes('hang');
    await h.clock.advance(200_000);
    expect(lease.status).toBe('degraded');
    h.cluster.setAllModes('up');
    await h.clock.advance(10_000);
    expect(lease.status).toBe('active');
    expect(lease.id).toBe(id);
    expect(h.names()).toEqual(['degraded', 'restored']);
    expect(h.events.find((e) => e.event === 'restored')?.payload).toMatchObject({ replaced: false });
    expect(h.cluster.inUse('app')).toBe(1);
  });

  it('checks a new seat out with a new request id when the lease expired on the cluster, then is restored', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300, policy: 'strict' });
    const lease = await h.clock.run(h.client.checkout('app'));
    const first = { id: lease.id, requestId: lease.requestId };
    h.cluster.setAllModes('hang');
    await h.clock.advance(TTL + GRACE + 60_000);
    expect(lease.status).toBe('lost');
    h.cluster.setAllModes('up');
    await h.clock.advance(31_000); // the lost-lease retry waits at most 30 s
    expect(lease.status).toBe('active');
    expect(lease.entitled).toBe(true);
    expect(lease.id).not.toBe(first.id);
    expect(lease.requestId).not.toBe(first.requestId);
    expect(h.names()).toEqual(['degraded', 'lost', 'replaced', 'restored']);
    expect(h.events.find((e) => e.event === 'replaced')?.payload).toMatchObject({ previousId: first.id });
    expect(h.events.find((e) => e.event === 'restored')?.payload).toMatchObject({ replaced: true });
    // The client still counts one lease: the new one, reachable by its new id.
    expect(h.client.metrics().leases).toEqual({ active: 1, degraded: 0, lost: 0 });
    expect(await h.client.release(lease.id)).toMatchObject({ id: lease.id, state: 'released' });
  });

  it('under overdraft, locks at once when a node says the seat was taken meanwhile, and gets it back later', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300, policy: 'overdraft', features: { app: 1 } });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('hang');
    await h.clock.advance(TTL + 10_000); // the seat was freed at expiry (overdraft)
    expect(lease.status).toBe('degraded');
    // Someone else takes the freed seat through the fake's own fetch.
    h.cluster.setAllModes('up');
    const other = await h.cluster.fetch(`${h.cluster.urls[0]}/v1/leases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.cluster.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ feature: 'app', client: { id: 'other' }, requestId: 'other-0001' }),
    });
    expect(other.status).toBe(201);
    await h.clock.advance(5_000);
    // A node answered: grace covers silence only.
    expect(lease.status).toBe('lost');
    expect(lease.entitled).toBe(false);
    expect(h.events.find((e) => e.event === 'lost')?.payload).toMatchObject({
      reason: 'seats-exhausted',
      final: false,
    });
    // The other holder leaves; the lost lease gets a seat back by itself.
    const otherId = ((await other.json()) as { id: string }).id;
    await h.cluster.fetch(`${h.cluster.urls[0]}/v1/leases/${otherId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.cluster.token}` },
    });
    await h.clock.advance(31_000);
    expect(lease.status).toBe('active');
    expect(h.names()).toEqual(['degraded', 'lost', 'replaced', 'restored']);
  });

  it('gives up for good when an operator revokes the lease', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.revoke(lease.id);
    await h.clock.advance(20_000);
    expect(lease.status).toBe('closed');
    expect(h.client.isEntitled('app')).toBe(false);
    expect(h.events.find((e) => e.event === 'lost')?.payload).toMatchObject({
      reason: 'revoked',
      final: true,
    });
    const requests = h.cluster.requests.length;
    await h.clock.advance(600_000);
    expect(h.cluster.requests).toHaveLength(requests); // no more renewals
    expect(h.client.metrics().leases).toEqual({ active: 0, degraded: 0, lost: 0 });
  });

  it('gives up for good when the license is revoked, even while degraded', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 300 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('down');
    await h.clock.advance(25_000);
    expect(lease.status).toBe('degraded');
    h.cluster.revokeLicense();
    h.cluster.setAllModes('up');
    await h.clock.advance(10_000);
    expect(lease.status).toBe('closed');
    expect(h.events.find((e) => e.event === 'lost')?.payload).toMatchObject({
      reason: 'rejected',
      final: true,
    });
  });

  it('reuses the re-checkout request id after a lost answer: one new lease, not two', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 0, features: { app: 5 } });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('hang');
    await h.clock.advance(TTL + 1_000);
    expect(lease.status).toBe('lost');
    // Nodes answer again, but every answer to a checkout is lost after the node handled it.
    h.cluster.setAllModes('up');
    const isCheckout = (r: { method: string; path: string }) =>
      r.method === 'POST' && r.path === '/v1/leases';
    for (const url of h.cluster.urls) h.cluster.node(url).dropAnswerIf = isCheckout;
    // Less than a TTL: the lease made under the first request id is still live when an answer gets through.
    await h.clock.advance(40_000);
    expect(lease.status).toBe('lost');
    for (const url of h.cluster.urls) h.cluster.node(url).dropAnswerIf = undefined;
    await h.clock.advance(31_000);
    expect(lease.status).toBe('active');

    const recheckouts = h.cluster.requests.filter(isCheckout).slice(1);
    expect(recheckouts.length).toBeGreaterThan(3);
    // One request id for every attempt, hence one lease for all of them.
    expect(new Set(recheckouts.map((r) => r.body?.requestId)).size).toBe(1);
    expect(h.cluster.leases().filter((l) => l.requestId === recheckouts[0]?.body?.requestId)).toHaveLength(1);
    expect(h.cluster.inUse('app')).toBe(1);
    expect(lease.requestId).toBe(recheckouts[0]?.body?.requestId);
  });
});
