import { ERROR_CODES } from '@leasehold/domain';
import { buildApp } from '@leasehold/server/internal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/test-app.js';

describe('auth', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    await t.install();
    await t.install(await t.vendor.issue({ lid: 'lic-2' }));
  });
  afterEach(() => t.close());

  const clientToken = async (license: string) => {
    const res = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license, name: 'app' },
    });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; token: string };
  };

  it('needs a live bearer token (401 UNAUTHENTICATED otherwise)', async () => {
    for (const token of [null, 'nope-nope-nope-nope', `Basic ${'x'.repeat(20)}`]) {
      const res = await t.call({ method: 'GET', url: '/v1/licenses', token });
      expect([res.statusCode, res.json().code]).toEqual([401, 'UNAUTHENTICATED']);
    }
    const bare = await t.app.inject({
      method: 'GET',
      url: '/v1/licenses',
      headers: { authorization: 'Bearer' },
    });
    expect(bare.json().code).toBe('UNAUTHENTICATED');
  });

  it('binds a client token to one license and keeps it off admin routes', async () => {
    const { token, id } = await clientToken('lic-1');
    expect(token).toMatch(/^lh_client_[A-Za-z0-9_-]{43}$/);
    const own = await t.checkout({}, token);
    expect([own.statusCode, own.json().license]).toEqual([201, 'lic-1']);
    const other = await t.checkout({ license: 'lic-2' }, token);
    expect([other.statusCode, other.json().code]).toEqual([403, 'FORBIDDEN']);
    const adminLease = (await t.checkout({ license: 'lic-2', client: { id: 'x' } })).json();
    const hidden = await t.call({ method: 'POST', url: `/v1/leases/${adminLease.id}/renew?client=x`, token });
    expect(hidden.json().code).toBe('LEASE_NOT_FOUND');
    for (const [method, url] of [
      ['GET', '/v1/licenses'],
      ['GET', '/v1/leases'],
      ['POST', '/v1/tokens'],
      ['POST', `/v1/leases/${adminLease.id}/force-release`],
    ] as const) {
      const res = await t.call({ method, url, token, payload: method === 'POST' ? {} : undefined });
      expect([url, res.statusCode, res.json().code]).toEqual([url, 403, 'FORBIDDEN']);
    }
    await t.call({ method: 'DELETE', url: `/v1/tokens/${id}` });
    expect((await t.checkout({}, token)).json().code).toBe('UNAUTHENTICATED');
    const listed = (await t.call({ method: 'GET', url: '/v1/tokens' })).json().tokens;
    expect(JSON.stringify(listed)).not.toContain(token);
  });

  it('refuses client tokens without a license and for unknown licenses', async () => {
    const none = await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'client' } });
    expect(none.json().code).toBe('VALIDATION_FAILED');
    const missing = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'x' },
    });
    expect(missing.json().code).toBe('LICENSE_NOT_FOUND');
  });
});

describe('problem+json for every bad request', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  const cases: [string, Parameters<TestApp['call']>[0], number, string][] = [
    ['unknown route', { method: 'GET', url: '/v1/nothing' }, 404, 'ROUTE_NOT_FOUND'],
    [
      'broken JSON',
      {
        method: 'POST',
        url: '/v1/leases',
        payload: '{"feature":',
        headers: { 'content-type': 'application/json' },
      },
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'text body',
      { method: 'POST', url: '/v1/leases', payload: 'hello', headers: { 'content-type': 'text/plain' } },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'unknown field',
      {
        method: 'POST',
        url: '/v1/leases',
        payload: { feature: 'f', client: { id: 'c' }, requestId: 'r'.repeat(8), x: 1 },
      },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'missing field',
      { method: 'POST', url: '/v1/leases', payload: { feature: 'f' } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'huge body',
      { method: 'POST', url: '/v1/licenses', payload: { license: 'x'.repeat(200_000) } },
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['bad id', { method: 'POST', url: '/v1/leases/%20%00/renew' }, 400, 'VALIDATION_FAILED'],
  ];

  it.each(cases)('%s', async (_name, request, status, code) => {
    const res = await t.call(request);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ status, code, type: `urn:leasehold:error:${code}` });
    expect(ERROR_CODES).toContain(body.code);
    expect(typeof body.retryable).toBe('boolean');
  });

  it('readiness fails with STORE_UNAVAILABLE when the store is gone', async () => {
    expect((await t.call({ method: 'GET', url: '/readyz', token: null })).json()).toEqual({
      status: 'ready',
      store: 'sqlite',
    });
    await t.store.close();
    const res = await t.call({ method: 'GET', url: '/readyz', token: null });
    expect([res.statusCode, res.json().code, res.json().retryable]).toEqual([503, 'STORE_UNAVAILABLE', true]);
    expect(res.headers['retry-after']).toBe('1');
  });
});

describe('OpenAPI', () => {
  it('documents every route with its schemas and security', async () => {
    const t = await makeTestApp();
    try {
      const spec = (await t.call({ method: 'GET', url: '/openapi.json', token: null })).json();
      expect(spec.openapi).toBe('3.1.0');
      const documented = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, ops]) =>
          Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
      const served = t.app.routeTable
        .map((r) => `${r.method} ${r.url}`)
        .filter((r) => r !== 'GET /openapi.json');
      expect(served.length).toBeGreaterThanOrEqual(15);
      expect(new Set(documented)).toEqual(new Set(served));
      for (const [path, ops] of Object.entries(
        spec.paths as Record<string, Record<string, { responses: object }>>,
      )) {
        for (const [method, op] of Object.entries(ops)) {
          expect(
            Object.keys(op.responses).some((code) => code.startsWith('2')),
            `${method} ${path}`,
          ).toBe(true);
          if (!['/healthz', '/readyz', '/.well-known/jwks.json'].includes(path)) {
            expect(Object.keys(op.responses), `${method} ${path}`).toContain('4XX');
          }
        }
      }
    } finally {
      await t.close();
    }
  });

  it('refuses to register a route that declares no scopes', async () => {
    const t = await makeTestApp();
    try {
      const app = await buildApp({
        store: t.store,
        clock: t.clock,
        keyring: undefined as never,
        licenseKeys: { vendorKeys: new Map() },
        newId: () => 'x',
        nodeId: 'n',
        version: '0',
      });
      expect(() => app.get('/open', async () => 'oops')).toThrow(/declares no scopes/);
      await app.close();
    } finally {
      await t.close();
    }
  });
});
