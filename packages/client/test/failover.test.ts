import { createClient, type FetchFunction, LeaseholdClientError } from '@leasehold/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from './support/cluster.js';
import { fakeClock } from './support/fake-clock.js';
import { blackhole, deadUrl, recordingFetch } from './support/network.js';

const origin = (url: string) => new URL(url).origin;

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

  it('skips a dead first server and then stays with the one that answered', async () => {
    const dead = await deadUrl();
    const recorder = recordingFetch();
    const client = createClient({
      servers: [dead, cluster.urls[0] as string],
      token: cluster.clientToken,
      clientId: 'dead-first',
      fetch: recorder.fetch,
      random: () => 0,
    });
    const lease = await client.checkout('cad');
    expect(recorder.calls.map(origin)).toEqual([dead, cluster.urls[0]]);

    await lease.renew();
    await lease.release();
    // The node that answered is preferred now: the dead one is not tried again.
    expect(recorder.calls.map(origin)).toEqual([dead, cluster.urls[0], cluster.urls[0], cluster.urls[0]]);
  });

  it('renews on another node when the node that granted the lease is closed', async () => {
    const [a, b] = cluster.urls as [string, string];
    const recorder = recordingFetch();
    const client = createClient({
      servers: [b, a],
      token: cluster.clientToken,
      clientId: 'node-closed',
      fetch: recorder.fetch,
      random: () => 0,
    });
    const lease = await client.checkout('cad');
    expect(recorder.calls.map(origin)).toEqual([b]);

    await cluster.closeNode(1);
    const expiry = lease.expiresAt.getTime();
    await lease.renew();
    expect(lease.expiresAt.getTime()).toBeGreaterThanOrEqual(expiry);
    expect(recorder.calls.slice(1).map(origin)).toEqual([b, a]);
    await lease.release();
  });

  it('resolves a checkout whose answer was lost by replaying its request id on the next node', async () => {
    const [, , c] = cluster.urls as [string, string, string];
    const a = cluster.urls[0] as string;
    const before = await cluster.inUse('cad');
    let dropped = 0;
    // The first node takes the seat, then the connection breaks before the answer arrives.
    const losesFirstAnswer: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      if (dropped++ === 0) {
        await response.body?.cancel();
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      }
      return response;
    };
    const client = createClient({
      servers: [c, a],
      token: cluster.clientToken,
      clientId: 'lost-answer',
      fetch: losesFirstAnswer,
      random: () => 0,
    });
    const lease = await client.checkout('cad');
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
    const client = createClient({
      servers: [hung.url, cluster.urls[0] as string],
      token: cluster.clientToken,
      clientId: 'hung-first',
      fetch: recorder.fetch,
      timeoutMs: 150,
      random: () => 0,
    });
    const lease = await client.checkout('cad');
    expect(recorder.calls.map(origin)).toEqual([hung.url, cluster.urls[0]]);
    await lease.release();
  });

  it('gives up after a bounded number of attempts with every failure attached', async () => {
    const dead = [await deadUrl(), await deadUrl()];
    const hung = await blackhole();
    cleanups.push(hung.close);
    const clock = fakeClock();
    const recorder = recordingFetch();
    const client = createClient({
      servers: [...dead, hung.url],
      token: cluster.clientToken,
      clientId: 'nobody-home',
      fetch: recorder.fetch,
      timeoutMs: 100,
      retry: { rounds: 2, baseDelayMs: 50 },
      random: () => 0.5,
      clock,
    });
    const err = await client.checkout('cad').catch((e: unknown) => e);
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
    // One jittered wait between the two rounds, below the 50 ms cap.
    expect(clock.sleeps).toEqual([25]);
  });
});
