import { createClient, type LeaseholdClientError } from '@leasehold/client';
import { FakeCluster, ManualClock } from '@leasehold/client/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { leaseCalls, scripted } from './support/scripted.js';

const [A, B, C] = ['http://a.test', 'http://b.test', 'http://c.test'];

let clock: ManualClock;
let cluster: FakeCluster;

beforeEach(async () => {
  clock = new ManualClock();
  cluster = await FakeCluster.start({
    nodes: [A, B, C],
    features: { cad: 5 },
    now: () => clock.now(),
    clock,
  });
});

const client = (
  fetch = cluster.fetch,
  extra: { random?: () => number; servers?: string[]; rounds?: number } = {},
) =>
  createClient({
    servers: extra.servers ?? [A, B, C],
    token: cluster.token,
    vendorKeys: cluster.vendorKeys,
    clientId: 'c1',
    fetch,
    random: extra.random ?? (() => 0),
    clock,
    discovery: false,
    retry: { rounds: extra.rounds ?? 2, baseDelayMs: 100, maxDelayMs: 1000 },
  });

describe('failover policy', () => {
  it('moves on when a node answers with a retryable problem, whatever its text says', async () => {
    cluster.node(A).failNext('STORE_UNAVAILABLE');
    const { fetch, calls } = scripted(cluster.fetch);
    const lease = await clock.run(client(fetch).checkout('cad'));
    expect(lease.status).toBe('active');
    expect(leaseCalls(calls).map((c) => c.server)).toEqual([A, B]);
  });

  it('stops at a non-retryable problem even when its text suggests another node', async () => {
    const { fetch, calls } = scripted(cluster.fetch, (call) =>
      call.server === A
        ? Response.json(
            {
              code: 'SEATS_EXHAUSTED',
              retryable: false,
              status: 409,
              detail: 'temporarily unavailable, try another node',
            },
            { status: 409 },
          )
        : undefined,
    );
    const err = await clock.run(client(fetch).checkout('cad')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEATS_EXHAUSTED', status: 409, retryable: false, server: `${A}/` });
    expect(calls.map((c) => c.server)).toEqual([A]);
  });

  it('sends one request id on every attempt of one checkout, and a new one for the next checkout', async () => {
    cluster.node(A).mode = 'down';
    cluster.node(B).mode = 'down';
    const { fetch, calls } = scripted(cluster.fetch);
    const c = client(fetch);
    await clock.run(c.checkout('cad'));
    const first = leaseCalls(calls);
    expect(first.map((call) => call.server)).toEqual([A, B, C]);
    expect(new Set(first.map((call) => call.body?.requestId)).size).toBe(1);
    await clock.run(c.checkout('cad'));
    expect(leaseCalls(calls).at(-1)?.body?.requestId).not.toBe(first[0]?.body?.requestId);
  });

  it('sends the checkout body the server schema expects', async () => {
    const { fetch, calls } = scripted(cluster.fetch);
    await clock.run(client(fetch).checkout('cad', { license: cluster.licenseId, requestId: 'my-request-1' }));
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/v1/leases',
      body: { feature: 'cad', license: cluster.licenseId, client: { id: 'c1' }, requestId: 'my-request-1' },
      headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
    });
  });

  it('fails over on an answer that is not a Leasehold answer (a proxy error page, a malformed lease)', async () => {
    const { fetch, calls } = scripted(cluster.fetch, (call) => {
      if (call.server === A) return new Response('<html>502 Bad Gateway</html>', { status: 502 });
      if (call.server === B) return Response.json({ id: 'lease-1' }, { status: 201 });
      return undefined;
    });
    await clock.run(client(fetch).checkout('cad'));
    expect(leaseCalls(calls).map((c) => c.server)).toEqual([A, B, C]);
  });

  it("fails over on Fastify's bare 503 from a node that is shutting down (return503OnClosing)", async () => {
    const closing = { error: 'Service Unavailable', message: 'Service Unavailable', statusCode: 503 };
    const { fetch, calls } = scripted(cluster.fetch, (call) =>
      call.server === A ? Response.json(closing, { status: 503 }) : undefined,
    );
    await clock.run(client(fetch).checkout('cad'));
    expect(leaseCalls(calls).map((c) => c.server)).toEqual([A, B]);
  });

  it('starts at a node the random source picks (two random candidates, the cheaper one)', async () => {
    const { fetch, calls } = scripted(cluster.fetch);
    // 0.99 picks C and then B as the two candidates; neither has a latency yet, so the first wins.
    await clock.run(client(fetch, { random: () => 0.99 }).checkout('cad'));
    expect(leaseCalls(calls).map((c) => c.server)).toEqual([C]);
  });

  it('waits a jittered, capped backoff between rounds and nowhere else', async () => {
    cluster.setAllModes('down');
    const { fetch, calls } = scripted(cluster.fetch);
    const c = createClient({
      servers: [A, B],
      token: cluster.token,
      vendorKeys: cluster.vendorKeys,
      clientId: 'c1',
      fetch,
      random: () => 0.999,
      clock,
      discovery: false,
      retry: { rounds: 5, baseDelayMs: 100, maxDelayMs: 300 },
    });
    const before = clock.scheduled.length;
    const err = await clock.run(c.checkout('cad')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ALL_SERVERS_FAILED' });
    expect((err as LeaseholdClientError).attempts).toHaveLength(10);
    expect(calls).toHaveLength(10);
    // Foreground timers other than the 3000 ms attempt deadlines: the waits between rounds.
    const waits = clock.scheduled
      .slice(before)
      .filter((t) => !t.background && t.delayMs !== 3000)
      .map((t) => t.delayMs);
    expect(waits).toEqual([99, 199, 299, 299]);
  });

  it('reports a timeout as TIMEOUT, distinct from a refused connection', async () => {
    cluster.node(A).mode = 'hang';
    const c = createClient({
      servers: [A],
      token: cluster.token,
      vendorKeys: cluster.vendorKeys,
      clientId: 'c1',
      fetch: cluster.fetch,
      clock,
      timeoutMs: 20,
      discovery: false,
      retry: { rounds: 1 },
    });
    const err = (await clock.run(c.checkout('cad')).catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.code).toBe('ALL_SERVERS_FAILED');
    expect(err.attempts.map((a) => [a.code, a.retryable, a.server])).toEqual([['TIMEOUT', true, `${A}/`]]);
    expect(clock.monotonic()).toBe(20);
  });

  it('keeps a server path prefix and encodes lease ids', async () => {
    const prefixed = await FakeCluster.start({ nodes: [`${A}/leasehold`], now: () => clock.now() });
    const { fetch, calls } = scripted(prefixed.fetch);
    const c = createClient({
      servers: [`${A}/leasehold`],
      token: prefixed.token,
      vendorKeys: prefixed.vendorKeys,
      clientId: 'c1',
      fetch,
      clock,
      discovery: false,
      retry: { rounds: 1 },
    });
    await c.release('a/b?c').catch(() => undefined);
    expect(calls[0]).toMatchObject({ method: 'DELETE', path: '/leasehold/v1/leases/a%2Fb%3Fc' });
    expect(calls[0]?.headers['content-type']).toBeUndefined();
    const lease = await clock.run(c.checkout('app'));
    expect(leaseCalls(calls).at(-1)?.path).toBe('/leasehold/v1/leases');
    expect(lease.feature).toBe('app');
  });

  it('aborts a checkout when its signal aborts, without trying further nodes', async () => {
    cluster.setAllModes('hang');
    const controller = new AbortController();
    const { fetch, calls } = scripted(cluster.fetch);
    const pending = client(fetch).checkout('cad', { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new Error('user cancelled'));
    await expect(pending).rejects.toThrow('user cancelled');
    expect(calls).toHaveLength(1);
  });
});
