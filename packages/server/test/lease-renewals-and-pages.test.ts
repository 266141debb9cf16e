import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from './helpers/test-app.js';

// Issue 14 through the API: many renewals in one call (each lease answered on its own) and listings
// paged by cursor (`?limit=&after=`, `next` in the answer).
describe('renewing many leases in one call', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
  });
  afterEach(() => t.close());

  const renewAll = (ids: string[], token?: string, client?: string) =>
    t.call({
      method: 'POST',
      url: client ? `/v1/leases/renew?client=${encodeURIComponent(client)}` : '/v1/leases/renew',
      token,
      payload: { leases: ids.map((id) => ({ id })) },
    });

  it('renews each lease with its own signed token; a refused lease fails only itself', async () => {
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => (await t.checkout({ client: { id } })).json()),
    );
    await t.call({ method: 'DELETE', url: `/v1/leases/${c.id}` });
    await t.clock.advance(40_000);
    const res = await renewAll([a.id, c.id, 'no-such-lease', b.id]);
    expect(res.statusCode, res.body).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { id: string }) => r.id)).toEqual([a.id, c.id, 'no-such-lease', b.id]);
    expect(results[1].problem).toMatchObject({ code: 'LEASE_RELEASED', status: 410, retryable: false });
    expect(results[2].problem).toMatchObject({ code: 'LEASE_NOT_FOUND', status: 404 });
    const jwks = (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).json();
    for (const [i, held] of [
      [0, a],
      [3, b],
    ] as const) {
      const { lease } = results[i];
      expect(lease).toMatchObject({ id: held.id, state: 'active' });
      expect(lease.expiresAt).toBe(new Date(t.clock.now() + 60_000).toISOString());
      const { payload } = await jwtVerify(lease.token, createLocalJWKSet(jwks), {
        currentDate: new Date(t.clock.now()),
        typ: 'lease+jwt',
      });
      expect([payload.jti, (payload.exp ?? 0) * 1000]).toEqual([held.id, t.clock.now() + 60_000]);
    }
    // The renewed leases hold their seats past their first deadline; the released one's seat was free.
    await t.clock.advance(30_000);
    const again = await t.call({ method: 'GET', url: '/v1/leases' });
    expect(
      again
        .json()
        .leases.map((l: { id: string }) => l.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });

  it('a client token renews its own license’s leases and sees no other license’s', async () => {
    expect((await t.install(await t.vendor.issue({ lid: 'lic-2' }))).statusCode).toBe(201);
    const token = (
      await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'client', license: 'lic-1' } })
    ).json().token;
    const own = (await t.checkout({ license: 'lic-1', client: { id: 'x' } }, token)).json();
    const other = (await t.checkout({ license: 'lic-2', client: { id: 'y' } })).json();
    const { results } = (await renewAll([own.id, other.id], token, 'x')).json();
    expect(results[0].lease.id).toBe(own.id);
    expect(results[1].problem.code).toBe('LEASE_NOT_FOUND');
  });

  it('refuses an empty call, a lease named twice and more than 100 leases, each with a coded 400', async () => {
    const a = (await t.checkout()).json();
    const many = Array.from({ length: 101 }, (_, i) => `lease-${i}`);
    for (const ids of [[], [a.id, a.id], many]) {
      const res = await renewAll(ids);
      expect([res.statusCode, res.json().code], res.body).toEqual([400, 'VALIDATION_FAILED']);
    }
  });
});

describe('lease listings by cursor', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install(await t.vendor.issue({ features: { solver: { seats: 20 } } }))).statusCode).toBe(
      201,
    );
  });
  afterEach(() => t.close());

  const follow = async (query: string, limit: number) => {
    const pages: { id: string; reservedUntil: string }[][] = [];
    let url = `/v1/leases?${query}&limit=${limit}`;
    for (let round = 0; round < 50; round++) {
      const res = await t.call({ method: 'GET', url });
      expect(res.statusCode, res.body).toBe(200);
      const { leases, next } = res.json();
      pages.push(leases);
      if (next === undefined) return pages;
      url = `/v1/leases?${query}&limit=${limit}&after=${encodeURIComponent(next)}`;
    }
    throw new Error('more than 50 pages');
  };

  it('pages live leases in deadline order with next, to the same leases as one call', async () => {
    for (let i = 0; i < 7; i++) {
      expect((await t.checkout({ client: { id: `c${i}` } })).statusCode).toBe(201);
      await t.clock.advance(10);
    }
    const whole = (await t.call({ method: 'GET', url: '/v1/leases' })).json();
    expect(whole.next).toBeUndefined();
    const deadlines = whole.leases.map((l: { reservedUntil: string }) => Date.parse(l.reservedUntil));
    expect(deadlines).toEqual([...deadlines].sort((x, y) => x - y));
    const pages = await follow('feature=solver', 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(whole.leases);
  });

  it('pages every lease (all=true) by id, and refuses a cursor that is not one', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await t.checkout({ client: { id: `c${i}` } })).json().id);
    await t.call({ method: 'DELETE', url: `/v1/leases/${ids[0]}` });
    const pages = await follow('all=true', 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((l) => l.id)).toEqual([...ids].sort());
    for (const after of ['garbage', Buffer.from('d:1:x').toString('base64url')]) {
      const res = await t.call({ method: 'GET', url: `/v1/leases?all=true&after=${after}` });
      expect([res.statusCode, res.json().code], res.body).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('keeps the default page of 1000 for callers that send no limit', async () => {
    const res = await t.call({ method: 'GET', url: '/v1/leases' });
    expect(res.json()).toEqual({ leases: [] });
    const spec = (t.app as unknown as { swagger(): unknown }).swagger() as {
      paths: Record<string, Record<string, { parameters: { name: string; schema: { default?: number } }[] }>>;
    };
    const params = spec.paths['/v1/leases']?.get?.parameters ?? [];
    expect(params.find((p) => p.name === 'limit')?.schema.default).toBe(1000);
    expect(params.map((p) => p.name)).toContain('after');
  });
});

describe('leases list (CLI) by page', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install(await t.vendor.issue({ features: { solver: { seats: 20 } } }))).statusCode).toBe(
      201,
    );
  });
  afterEach(() => t.close());

  /** Runs the CLI in this process against the app on loopback; returns what it printed as JSON. */
  const cli = async (...args: string[]) => {
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 }).catch(() => {
      const { port } = t.app.server.address() as { port: number };
      return `http://127.0.0.1:${port}`;
    });
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => printed.push(chunk) > 0) as typeof process.stdout.write;
    try {
      await buildProgram()
        .exitOverride()
        .parseAsync(['leases', 'list', '-s', url, '-t', ADMIN_TOKEN, '--json', ...args], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    return JSON.parse(printed.join(''));
  };

  it('prints one page with its next cursor, continues after it, or follows every page', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.checkout({ client: { id: `c${i}` } })).json().id);
      await t.clock.advance(10);
    }
    const first = await cli('--limit', '2');
    expect(first.leases.map((l: { id: string }) => l.id)).toEqual(ids.slice(0, 2));
    const second = await cli('--limit', '2', '--after', first.next);
    expect(second.leases.map((l: { id: string }) => l.id)).toEqual(ids.slice(2, 4));
    const every = await cli('--limit', '2', '--all-pages');
    expect(every).toEqual({ leases: expect.any(Array) });
    expect(every.leases.map((l: { id: string }) => l.id)).toEqual(ids);
  });
});
