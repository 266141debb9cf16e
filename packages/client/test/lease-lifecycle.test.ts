import {
  createClient,
  type LeaseholdClient,
  LeaseholdClientError,
  verifyLeaseToken,
} from '@leasehold/client';
import { ManualClock } from '@leasehold/client/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LICENSE_ID, startCluster, type TestCluster } from './support/cluster.js';
import { recordingFetch } from './support/network.js';

let cluster: TestCluster;
const clients: LeaseholdClient[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cluster?.close();
});

function clientFor(clientId: string, fetch = recordingFetch()): LeaseholdClient {
  const client = createClient({
    servers: cluster.urls,
    token: cluster.clientToken,
    vendorKeys: cluster.vendorKeys,
    clientId,
    host: 'ws-17',
    user: 'ada',
    fetch: fetch.fetch,
    random: () => 0,
  });
  clients.push(client);
  return client;
}

/** Calls to the lease API only (not the JWKS download or node discovery). */
const leaseCalls = (calls: readonly string[]) => calls.filter((url) => url.includes('/v1/leases'));

describe('checkout, renew, release against a real node', () => {
  it('checks a seat out, renews it and checks it back in', async () => {
    const client = clientFor('lifecycle');
    const before = await cluster.inUse('cad');
    const lease = await client.checkout('cad');

    expect(lease.feature).toBe('cad');
    expect(lease.license).toBe(LICENSE_ID);
    expect(lease.state).toBe('active');
    expect(lease.status).toBe('active');
    expect(client.isEntitled('cad')).toBe(true);
    expect(client.isEntitled('solo')).toBe(false);
    expect(lease.claims).toMatchObject({ jti: lease.id, grace: 30, sub: 'lifecycle' });
    expect(lease.graceSeconds).toBe(30);
    expect(lease.fence).toBeGreaterThan(0);
    expect(lease.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lease.renewAfter.getTime()).toBeLessThan(lease.expiresAt.getTime());
    expect(lease.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(await cluster.inUse('cad')).toBe(before + 1);

    const claims = await verifyLeaseToken(lease.token, await client.jwks(), {
      feature: 'cad',
      clientId: 'lifecycle',
    });
    expect(claims).toMatchObject({ jti: lease.id, lic: LICENSE_ID, sub: 'lifecycle', fence: lease.fence });

    const firstExpiry = lease.expiresAt.getTime();
    const renewed = await lease.renew();
    expect(renewed).toBe(lease);
    expect(lease.expiresAt.getTime()).toBeGreaterThanOrEqual(firstExpiry);
    expect((await verifyLeaseToken(lease.token, await client.jwks())).jti).toBe(lease.id);

    const final = await lease.release();
    expect(final.state).toBe('released');
    expect(final.endedAt).toBeInstanceOf(Date);
    expect(lease.state).toBe('released');
    expect(lease.status).toBe('closed');
    expect(client.isEntitled('cad')).toBe(false);
    expect(await cluster.inUse('cad')).toBe(before);
    expect(JSON.stringify(lease)).not.toContain(lease.token);
  });

  it('renews and releases by lease id at the API level', async () => {
    const client = clientFor('by-id');
    const { id } = await client.checkout('cad');
    const renewed = await client.renew(id);
    expect(renewed.id).toBe(id);
    expect(renewed.token).not.toBe('');
    expect((await client.release(id)).state).toBe('released');
    // Release is idempotent: a repeat (say, after a lost answer) reports the same end.
    expect((await client.release(id)).state).toBe('released');
  });

  it('gives the same lease for a retried request id, never a second seat', async () => {
    const client = clientFor('idempotent');
    const before = await cluster.inUse('cad');
    const requestId = 'retry-0001-abcdef';
    const first = await client.checkout('cad', { requestId });
    const again = await client.checkout('cad', { requestId, license: LICENSE_ID });
    expect(again.id).toBe(first.id);
    expect(again.fence).toBe(first.fence);
    expect(await cluster.inUse('cad')).toBe(before + 1);
    await first.release();
  });

  it('throws a non-retryable error at once, without trying another node', async () => {
    const holderFetch = recordingFetch();
    const holder = await clientFor('solo-holder', holderFetch).checkout('solo');
    const recorder = recordingFetch();
    const client = clientFor('solo-second', recorder);

    const err = await client.checkout('solo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseholdClientError);
    expect(err).toMatchObject({ code: 'SEATS_EXHAUSTED', status: 409, retryable: false });
    expect((err as LeaseholdClientError).problem).toMatchObject({ seats: 1 });
    expect(leaseCalls(recorder.calls)).toHaveLength(1);
    await holder.release();
  });

  it('does not fail over a renewal of a released lease', async () => {
    const recorder = recordingFetch();
    const client = clientFor('released', recorder);
    const lease = await client.checkout('cad');
    await lease.release();
    const calls = leaseCalls(recorder.calls).length;
    await expect(lease.renew()).rejects.toMatchObject({
      code: 'LEASE_RELEASED',
      status: 410,
      retryable: false,
    });
    expect(leaseCalls(recorder.calls)).toHaveLength(calls + 1);
  });

  it('reports an unknown lease as LEASE_NOT_FOUND', async () => {
    await expect(clientFor('nobody').renew('no-such-lease')).rejects.toMatchObject({
      code: 'LEASE_NOT_FOUND',
      retryable: false,
    });
  });
});

describe('node discovery against a real node', () => {
  it('a client token gets the node list from /v1/cluster; discovery stays on and keeps the configured nodes', async () => {
    // Discovery is paced by the client's clock: a manual one shows when a refresh has finished (it arms
    // the next one) and runs the next without waiting a real interval. Real time for the tokens' checks.
    const clock = new ManualClock(Date.now());
    const recorder = recordingFetch();
    const client = createClient({
      servers: cluster.urls,
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'discovery',
      fetch: recorder.fetch,
      clock,
      discovery: { intervalMs: 45_000 },
      random: () => 0,
    });
    clients.push(client);
    const listings = () => recorder.calls.filter((url) => url.endsWith('/v1/cluster')).length;
    const nextRefreshArmed = () => clock.scheduled.filter((t) => t.delayMs === 45_000 && t.background).length;
    const lease = await client.checkout('cad');
    // The first refresh starts with the first call and answers over loopback (real I/O, so waited for).
    await vi.waitFor(() => expect(nextRefreshArmed()).toBe(1), { timeout: 5000 });
    expect(listings()).toBe(1);
    expect(client.metrics().discovery).toBe('on');
    for (const url of cluster.urls) expect(client.servers).toContain(`${url}/`);
    // One interval later it asks again: still on.
    await clock.advance(45_000);
    await vi.waitFor(() => expect(nextRefreshArmed()).toBe(2), { timeout: 5000 });
    expect(listings()).toBe(2);
    expect(client.metrics().discovery).toBe('on');
    for (const url of cluster.urls) expect(client.servers).toContain(`${url}/`);
    await lease.release();
  });
});
