import { createClient } from '@leasehold/client';
import { describe, expect, it } from 'vitest';
import { harness, renewalTimes } from './support/harness.js';
import { TEST_VENDOR_KEY } from './support/vendor-key.js';

const DAY = 86_400_000;

describe('renewal timing (manual clock)', () => {
  it('renews at a third of the TTL, measured from when the request was sent', async () => {
    const h = await harness({ ttlSeconds: 60 });
    const lease = await h.clock.run(h.client.checkout('app'));
    await h.clock.advance(100_000);
    expect(renewalTimes(h)).toEqual([20_000, 40_000, 60_000, 80_000, 100_000]);
    expect(h.names()).toEqual([]);
    expect(lease.status).toBe('active');
    expect(h.client.isEntitled('app')).toBe(true);
    // Each renewal moved the lease on: the last token expires a TTL after the last renewal.
    expect(lease.claims.exp * 1000).toBe(Date.UTC(2026, 0, 1) + 160_000);
  });

  it('starts each renewal up to 10% early at random, so clients granted together do not renew together', async () => {
    const h = await harness({ ttlSeconds: 60 }, { random: () => 0.999 });
    await h.clock.run(h.client.checkout('app'));
    await h.clock.advance(40_000);
    // 20 s × (1 − 0.1 × 0.999) = 18,002 ms after each grant.
    expect(renewalTimes(h)).toEqual([18_002, 36_004]);
  });

  it('keeps its schedule when the wall clock is set back two days', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 0 });
    const lease = await h.clock.run(h.client.checkout('app'));
    await h.clock.advance(5_000);
    h.clock.jumpWall(-2 * DAY);
    await h.clock.advance(55_000);
    expect(renewalTimes(h)).toEqual([20_000, 40_000, 60_000]);
    expect(lease.status).toBe('active');
    expect(h.client.isEntitled('app')).toBe(true);
    expect(h.names()).toEqual([]);
  });

  it('renews on another node when the one in use dies, showing only a failover event', async () => {
    const h = await harness({ ttlSeconds: 60, nodes: 3 });
    const lease = await h.clock.run(h.client.checkout('app'));
    const id = lease.id;
    const first = h.cluster.requests[0]?.node as string;
    h.cluster.node(first).mode = 'down';
    await h.clock.advance(60_000);
    expect(renewalTimes(h)).toEqual([20_000, 40_000, 60_000]);
    const failovers = h.events.filter((e) => e.event === 'failover');
    expect(failovers).toHaveLength(1);
    expect(failovers[0]?.payload).toMatchObject({ from: `${first}/`, operation: 'renew', lease });
    // Its circuit is open now: the later renewals went straight to live nodes.
    const renewNodes = h.cluster.requests.filter((r) => r.path.endsWith('/renew')).map((r) => r.node);
    expect(renewNodes).not.toContain(first);
    expect(h.names()).toEqual(['failover']);
    expect(lease.id).toBe(id);
    expect(h.client.metrics().nodes.find((n) => n.url === `${first}/`)?.circuit).not.toBe('closed');
  });

  it('renews on a node that answers STORE_UNAVAILABLE elsewhere, and never on a definitive refusal', async () => {
    const h = await harness({ ttlSeconds: 60, nodes: 2 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.node(0).failNext('STORE_UNAVAILABLE', 10);
    h.cluster.node(1).failNext('STORE_UNAVAILABLE', 10);
    await h.clock.advance(20_000);
    expect(lease.status).toBe('degraded');
    h.cluster.node(0).failNext('STORE_UNAVAILABLE', 0);
    h.cluster.node(1).failNext('STORE_UNAVAILABLE', 0);
    await h.clock.advance(5_000);
    expect(lease.status).toBe('active');
    expect(h.names()).toEqual(['degraded', 'restored']);
  });

  it('does not renew a lease checked out with autoRenew: false, but still ends it at expiry plus grace', async () => {
    const h = await harness({ ttlSeconds: 60, graceSeconds: 10 });
    const lease = await h.clock.run(h.client.checkout('app', { autoRenew: false }));
    await h.clock.advance(69_999);
    expect(renewalTimes(h)).toEqual([]);
    expect(lease.entitled).toBe(true);
    await h.clock.advance(1);
    expect(lease.entitled).toBe(false);
    expect(h.names()).toEqual(['lost']);
  });

  it('renews at once when asked, one pass at a time', async () => {
    const h = await harness({ ttlSeconds: 60 });
    const lease = await h.clock.run(h.client.checkout('app'));
    await h.clock.advance(5_000);
    const [a, b] = await Promise.all([lease.renew(), lease.renew()]);
    expect(a).toBe(lease);
    expect(b).toBe(lease);
    expect(renewalTimes(h)).toEqual([5_000, 5_000]);
    // The schedule starts again from the newest grant.
    await h.clock.advance(20_000);
    expect(renewalTimes(h)).toEqual([5_000, 5_000, 25_000]);
  });

  it('checks options before any request: no grace option exists for a client to choose', () => {
    expect(() =>
      createClient({
        servers: ['http://a.test'],
        token: 't',
        clientId: 'c',
        vendorKeys: TEST_VENDOR_KEY,
        grace: 3600,
      } as never),
    ).toThrow(/unknown option "grace"/);
  });
});
