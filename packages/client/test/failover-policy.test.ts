import { createClient, type FetchFunction, type LeaseholdClientError } from '@leasehold/client';
import { describe, expect, it } from 'vitest';
import { fakeClock } from './support/fake-clock.js';

const A = 'http://a.test';
const B = 'http://b.test';
const C = 'http://c.test';

const problem = (status: number, code: string, retryable: boolean, detail: string) =>
  new Response(
    JSON.stringify({ type: `urn:leasehold:error:${code}`, title: code, status, code, retryable, detail }),
    {
      status,
      headers: { 'content-type': 'application/problem+json' },
    },
  );

const lease = (requestId: string) =>
  new Response(
    JSON.stringify({
      id: 'lease-1',
      license: 'lic-1',
      feature: 'cad',
      state: 'active',
      slot: 0,
      fence: 7,
      client: { id: 'c1' },
      requestId,
      createdAt: '2026-01-01T00:00:00.000Z',
      renewedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T00:01:00.000Z',
      reservedUntil: '2026-01-01T00:01:30.000Z',
      renewAfter: '2026-01-01T00:00:20.000Z',
      graceSeconds: 30,
      token: 'header.payload.signature',
    }),
    { status: 201, headers: { 'content-type': 'application/json' } },
  );

interface Call {
  readonly server: string;
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
  readonly headers: Record<string, string>;
}

/** A fake fetch answering from a script keyed by server origin; records every call. */
function scripted(answers: Record<string, (call: Call) => Response | Promise<Response>>) {
  const calls: Call[] = [];
  const fetch: FetchFunction = async (url, init) => {
    const { origin, pathname } = new URL(url);
    const call: Call = {
      server: origin,
      method: init.method ?? 'GET',
      path: pathname,
      body: typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined,
      headers: init.headers as Record<string, string>,
    };
    calls.push(call);
    const answer = answers[origin];
    if (!answer) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return answer(call);
  };
  return { fetch, calls };
}

const client = (
  fetch: FetchFunction,
  extra: { random?: () => number; clock?: ReturnType<typeof fakeClock> } = {},
) =>
  createClient({
    servers: [A, B, C],
    token: 'lh_client_test',
    clientId: 'c1',
    fetch,
    random: extra.random ?? (() => 0),
    clock: extra.clock ?? fakeClock(),
    retry: { rounds: 2, baseDelayMs: 100, maxDelayMs: 1000 },
  });

describe('failover policy', () => {
  it('moves on when a node answers with a retryable problem, whatever its text says', async () => {
    const { fetch, calls } = scripted({
      [A]: () => problem(503, 'STORE_UNAVAILABLE', true, 'fine, all good'),
      [B]: (call) => lease(String(call.body?.requestId)),
    });
    const got = await client(fetch).checkout('cad');
    expect(got.id).toBe('lease-1');
    expect(calls.map((c) => c.server)).toEqual([A, B]);
  });

  it('stops at a non-retryable problem even when its text suggests another node', async () => {
    const { fetch, calls } = scripted({
      [A]: () => problem(409, 'SEATS_EXHAUSTED', false, 'temporarily unavailable, try another node'),
      [B]: (call) => lease(String(call.body?.requestId)),
    });
    const err = await client(fetch)
      .checkout('cad')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEATS_EXHAUSTED', status: 409, retryable: false, server: `${A}/` });
    expect(calls.map((c) => c.server)).toEqual([A]);
  });

  it('sends one request id on every attempt of one checkout, and a new one for the next checkout', async () => {
    const { fetch, calls } = scripted({
      [C]: (call) => lease(String(call.body?.requestId)),
    });
    const c = client(fetch);
    await c.checkout('cad');
    const firstIds = new Set(calls.map((call) => call.body?.requestId));
    expect(calls).toHaveLength(3);
    expect(firstIds.size).toBe(1);
    await c.checkout('cad');
    expect(calls.at(-1)?.body?.requestId).not.toBe([...firstIds][0]);
  });

  it('sends the checkout body the server schema expects', async () => {
    const { fetch, calls } = scripted({ [A]: (call) => lease(String(call.body?.requestId)) });
    await client(fetch).checkout('cad', { license: 'lic-1', requestId: 'my-request-1' });
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/v1/leases',
      body: { feature: 'cad', license: 'lic-1', client: { id: 'c1' }, requestId: 'my-request-1' },
      headers: { authorization: 'Bearer lh_client_test', 'content-type': 'application/json' },
    });
  });

  it('fails over on an answer that is not a Leasehold answer (a proxy error page, a malformed lease)', async () => {
    const { fetch, calls } = scripted({
      [A]: () => new Response('<html>502 Bad Gateway</html>', { status: 502 }),
      [B]: () => new Response(JSON.stringify({ id: 'lease-1' }), { status: 201 }),
      [C]: (call) => lease(String(call.body?.requestId)),
    });
    await client(fetch).checkout('cad');
    expect(calls.map((c) => c.server)).toEqual([A, B, C]);
  });

  it("fails over on Fastify's bare 503 from a node that is shutting down (return503OnClosing)", async () => {
    const closing = '{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}';
    const { fetch, calls } = scripted({
      [A]: () => new Response(closing, { status: 503, headers: { 'content-type': 'application/json' } }),
      [B]: (call) => lease(String(call.body?.requestId)),
    });
    await client(fetch).checkout('cad');
    expect(calls.map((c) => c.server)).toEqual([A, B]);
  });

  it('starts at the server the random source picks', async () => {
    const { fetch, calls } = scripted({
      [A]: (call) => lease(String(call.body?.requestId)),
      [B]: (call) => lease(String(call.body?.requestId)),
      [C]: (call) => lease(String(call.body?.requestId)),
    });
    await client(fetch, { random: () => 0.99 }).checkout('cad');
    expect(calls.map((c) => c.server)).toEqual([C]);
  });

  it('waits a jittered, capped backoff between rounds and nowhere else', async () => {
    const clock = fakeClock();
    const { fetch, calls } = scripted({});
    const c = createClient({
      servers: [A, B],
      token: 'lh_client_test',
      clientId: 'c1',
      fetch,
      random: () => 0.999,
      clock,
      retry: { rounds: 5, baseDelayMs: 100, maxDelayMs: 300 },
    });
    const err = await c.checkout('cad').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ALL_SERVERS_FAILED' });
    expect((err as LeaseholdClientError).attempts).toHaveLength(10);
    expect(calls).toHaveLength(10);
    expect(clock.sleeps).toEqual([99, 199, 299, 299]);
  });

  it('reports a timeout as TIMEOUT, distinct from a refused connection', async () => {
    const hangs: FetchFunction = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const c = createClient({
      servers: [A],
      token: 'lh_client_test',
      clientId: 'c1',
      fetch: hangs,
      timeoutMs: 20,
      retry: { rounds: 1 },
    });
    const err = (await c.checkout('cad').catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.code).toBe('ALL_SERVERS_FAILED');
    expect(err.attempts.map((a) => [a.code, a.retryable, a.server])).toEqual([['TIMEOUT', true, `${A}/`]]);
  });

  it('keeps a server path prefix and encodes lease ids', async () => {
    const { fetch, calls } = scripted({
      [A]: () => new Response('{}', { status: 500 }),
    });
    const c = createClient({
      servers: [`${A}/leasehold`],
      token: 'lh_client_test',
      clientId: 'c1',
      fetch,
      retry: { rounds: 1 },
    });
    await c.release('a/b?c').catch(() => undefined);
    expect(calls[0]).toMatchObject({ method: 'DELETE', path: '/leasehold/v1/leases/a%2Fb%3Fc' });
    expect(calls[0]?.headers['content-type']).toBeUndefined();
  });
});
