import {
  type Clock,
  createClient,
  type FetchFunction,
  LeaseholdClientError,
  systemClock,
} from '@leasehold/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from './support/cluster.js';
import { blackhole, deadUrl, recordingFetch } from './support/network.js';

const origin = (url: string) => new URL(url).origin;
const leaseCalls = (calls: readonly string[]) =>
  calls.filter((url) => url.includes('/v1/leases')).map(origin);

/** The system clock, recording the delays of its foreground timers (backoff waits and attempt deadlines). */
function recordingClock(): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: systemClock.now,
    monotonic: systemClock.monotonic,
    setTimer: (callback, ms, background) => {
      if (!background) delays.push(ms);
      return systemClock.setTimer(callback, ms, background);
    },
  };
}

describe('failover between real nodes', () => {
  let cluster: TestCluster;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3 });
  });
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });
  afterAll(() => cluster?.close());

  const client = (options: Parameters<typeof createClient>[0]) => {
    const c = createClient({ discovery: false, ...options });
    cleanups.push(() => c.close());
    return c;
  };

  it('skips a dead first server and then keeps to the ones that answer', async () => {
    const dead = await deadUrl();
    const recorder = recordingFetch();
    const c = client({
      servers: [dead, cluster.urls[0] as string],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'dead-first',
      fetch: recorder.fetch,
      random: () => 0,
    });
    const lease = await c.checkout('cad');
    expect(leaseCalls(recorder.calls)).toEqual([dead, cluster.urls[0]]);
    await lease.renew();
    await lease.release();
    // The dead node's circuit is open: it is not tried again.
    expect(leaseCalls(recorder.calls)).toEqual([dead, cluster.urls[0], cluster.urls[0], cluster.urls[0]]);
    expect(c.metrics().nodes.map((n) => n.circuit)).toEqual(['open', 'closed']);
  });

  it('renews on another node when the node that granted the lease is closed', async () => {
    const [a, b] = cluster.urls as [string, string];
    const recorder = recordingFetch();
    const c = client({
      servers: [b, a],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'node-closed',
      fetch: recorder.fetch,
      random: () => 0,
    });
    const lease = await c.checkout('cad');
    expect(leaseCalls(recorder.calls)).toEqual([b]);
    const failovers: string[] = [];
    lease.on('failover', (e) => failovers.push(`${e.from} -> ${e.to}`));

    await cluster.closeNode(1);
    const expiry = lease.expiresAt.getTime();
    const id = lease.id;
    await lease.renew();
    expect(lease.id).toBe(id);
    expect(lease.expiresAt.getTime()).toBeGreaterThanOrEqual(expiry);
    expect(leaseCalls(recorder.calls).slice(1)).toEqual([b, a]);
    expect(failovers).toEqual([`${b}/ -> ${a}/`]);
    await lease.release();
  });

  it('resolves a checkout whose answer was lost by replaying its request id on the next node', async () => {
    const [a, , c] = cluster.urls as [string, string, string];
    const before = await cluster.inUse('cad');
    let dropped = 0;
    // The first node takes the seat, then the connection breaks before the answer arrives.
    const losesFirstAnswer: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      if (url.endsWith('/v1/leases') && dropped++ === 0) {
        await response.body?.cancel();
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      }
      return response;
    };
    const cl = client({
      servers: [c, a],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'lost-answer',
      fetch: losesFirstAnswer,
      random: () => 0,
    });
    const lease = await cl.checkout('cad');
    expect(dropped).toBe(2);
    expect(await cluster.inUse('cad')).toBe(before + 1);

    const listed = await cluster.admin<{ leases: { id: string; client: { id: string } }[] }>(
      'GET',
      '/v1/leases?feature=cad',
    );
    expect(listed.leases.filter((l) => l.client.id === 'lost-answer').map((l) => l.id)).toEqual([lease.id]);
    await lease.release();
  });

  it('times out a hung node and goes on to the next', async () => {
    const hung = await blackhole();
    cleanups.push(hung.close);
    const recorder = recordingFetch();
    const c = client({
      servers: [hung.url, cluster.urls[0] as string],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'hung-first',
      fetch: recorder.fetch,
      timeoutMs: 150,
      random: () => 0,
    });
    const lease = await c.checkout('cad');
    expect(leaseCalls(recorder.calls)).toEqual([hung.url, cluster.urls[0]]);
    await lease.release();
  });

  it('gives up after a bounded number of attempts with every failure attached', async () => {
    const dead = [await deadUrl(), await deadUrl()];
    const hung = await blackhole();
    cleanups.push(hung.close);
    const clock = recordingClock();
    const recorder = recordingFetch();
    const c = client({
      servers: [...dead, hung.url],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'nobody-home',
      fetch: recorder.fetch,
      timeoutMs: 100,
      retry: { rounds: 2, baseDelayMs: 50 },
      random: () => 0.5,
      clock,
    });
    const err = await c.checkout('cad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseholdClientError);
    const failure = err as LeaseholdClientError;
    expect(failure).toMatchObject({ code: 'ALL_SERVERS_FAILED', retryable: true, status: undefined });
    expect(failure.attempts.map((a) => a.code).sort()).toEqual([
      'NETWORK_ERROR',
      'NETWORK_ERROR',
      'NETWORK_ERROR',
      'NETWORK_ERROR',
      'TIMEOUT',
      'TIMEOUT',
    ]);
    expect(recorder.calls).toHaveLength(6);
    // One jittered wait between the two rounds, below the 50 ms cap; the rest are 100 ms attempt deadlines.
    expect(clock.delays.filter((ms) => ms !== 100)).toEqual([25]);
  });
});
