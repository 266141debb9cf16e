import { createClient } from '@leasehold/client';
import { describe, expect, it } from 'vitest';
import { harness } from './support/harness.js';
import { TEST_VENDOR_KEY } from './support/vendor-key.js';

describe('client.close()', () => {
  it('checks every seat in, stops every timer, and refuses further calls', async () => {
    const h = await harness({ features: { app: 3, cad: 1 } });
    await h.clock.run(h.client.checkout('app'));
    await h.clock.run(h.client.checkout('app'));
    await h.clock.run(h.client.checkout('cad'));
    expect(h.cluster.inUse('app')).toBe(2);
    const closing = h.client.close();
    expect(h.client.close()).toBe(closing); // idempotent
    await h.clock.run(closing);
    expect(h.cluster.inUse('app')).toBe(0);
    expect(h.cluster.inUse('cad')).toBe(0);
    expect(h.cluster.leases().map((l) => l.endReason)).toEqual(['released', 'released', 'released']);
    expect(h.client.isEntitled('app')).toBe(false);
    expect(h.client.closed).toBe(true);
    const requests = h.cluster.requests.length;
    await h.clock.advance(3_600_000);
    expect(h.cluster.requests).toHaveLength(requests);
    expect(h.clock.pendingTimers).toBe(0);
    await expect(h.client.checkout('app')).rejects.toMatchObject({ code: 'CLIENT_CLOSED', retryable: false });
  });

  it('checks in a seat whose checkout was still in flight when close began', async () => {
    const h = await harness({ features: { app: 3 } });
    h.cluster.node(0).latencyMs = 500;
    h.cluster.node(1).latencyMs = 500;
    h.cluster.node(2).latencyMs = 500;
    const checkout = h.client.checkout('app');
    await h.clock.advance(100);
    const closing = h.client.close();
    await expect(h.clock.run(checkout)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await h.clock.run(closing);
    expect(h.cluster.leases()).toHaveLength(1);
    expect(h.cluster.inUse('app')).toBe(0);
  });

  it('finishes when no node answers: the seat frees itself at its expiry', async () => {
    const h = await harness({}, { retry: { rounds: 2 } });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.setAllModes('down');
    await h.clock.run(h.client.close());
    expect(lease.status).toBe('closed');
    expect(h.client.isEntitled('app')).toBe(false);
    // release() may be called again once a node is back.
    h.cluster.setAllModes('up');
    expect(await h.clock.run(lease.release())).toMatchObject({ state: 'released' });
  });

  it('releases by id through the lease the client holds, and stops renewing it', async () => {
    const h = await harness();
    const lease = await h.clock.run(h.client.checkout('app'));
    await h.clock.run(h.client.release(lease.id));
    expect(lease.status).toBe('closed');
    const requests = h.cluster.requests.length;
    await h.clock.advance(120_000);
    expect(h.cluster.requests).toHaveLength(requests);
  });

  it('refuses options it does not know for a checkout', async () => {
    const client = createClient({
      servers: ['http://a.test'],
      token: 't',
      clientId: 'c',
      discovery: false,
      vendorKeys: TEST_VENDOR_KEY,
    });
    await expect(client.checkout('app', { autoRenew: 'yes' } as never)).rejects.toThrow(/autoRenew/);
    await expect(client.checkout('app', { signal: {} } as never)).rejects.toThrow(/signal/);
  });
});
