import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/test-app.js';

describe('lease API', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
  });
  afterEach(() => t.close());

  it('checks a seat out with a lease token signed by the cluster key', async () => {
    const res = await t.checkout({ client: { id: 'c1', host: 'ws-1', user: 'ada' } });
    expect(res.statusCode).toBe(201);
    const lease = res.json();
    expect(lease).toMatchObject({
      license: 'lic-1',
      feature: 'solver',
      state: 'active',
      client: { id: 'c1', host: 'ws-1', user: 'ada' },
      expiresAt: new Date(t.clock.now() + 60_000).toISOString(),
      renewAfter: new Date(t.clock.now() + 20_000).toISOString(),
      graceSeconds: 0,
    });
    const jwks = (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).json();
    const { payload } = await jwtVerify(lease.token, createLocalJWKSet(jwks), {
      currentDate: new Date(t.clock.now()),
      typ: 'lease+jwt',
      algorithms: ['EdDSA'],
    });
    expect(payload).toMatchObject({
      jti: lease.id,
      sub: 'c1',
      lic: 'lic-1',
      feat: 'solver',
      fence: lease.fence,
    });
    expect((payload.exp ?? 0) * 1000).toBeLessThanOrEqual(Date.parse(lease.reservedUntil));
    expect(decodeProtectedHeader(lease.token).kid).toBe(jwks.keys[0].kid);
  });

  it('returns the same lease for the same requestId, and 409 SEATS_EXHAUSTED past the seat count', async () => {
    const requestId = randomUUID();
    const first = await t.checkout({ requestId });
    const again = await t.checkout({ requestId });
    expect([first.statusCode, again.statusCode]).toEqual([201, 200]);
    expect(again.json().id).toBe(first.json().id);
    await t.checkout({ client: { id: 'c2' } });
    await t.checkout({ client: { id: 'c3' } });
    const denied = await t.checkout({ client: { id: 'c4' } });
    expect(denied.statusCode).toBe(409);
    expect(denied.json()).toMatchObject({ code: 'SEATS_EXHAUSTED', seats: 3, feature: 'solver' });
    expect((await t.checkout({ requestId })).json().id).toBe(first.json().id);
  });

  it('renews from the send time; a lease not renewed frees its seat by itself (manual clock)', async () => {
    const leases = [];
    for (const id of ['a', 'b', 'c']) leases.push((await t.checkout({ client: { id } })).json());
    await t.clock.advance(40_000);
    const renewed = await t.call({ method: 'POST', url: `/v1/leases/${leases[0].id}/renew` });
    expect(renewed.statusCode).toBe(200);
    expect(renewed.json().expiresAt).toBe(new Date(t.clock.now() + 60_000).toISOString());
    expect((await t.checkout({ client: { id: 'd' } })).statusCode).toBe(409);
    await t.clock.advance(20_000); // b and c reach their deadline; a was renewed
    const late = await t.call({ method: 'POST', url: `/v1/leases/${leases[1].id}/renew` });
    expect([late.statusCode, late.json().code]).toEqual([410, 'LEASE_EXPIRED']);
    expect((await t.checkout({ client: { id: 'd' } })).statusCode).toBe(201);
    expect((await t.checkout({ client: { id: 'e' } })).statusCode).toBe(201);
    expect((await t.checkout({ client: { id: 'f' } })).statusCode).toBe(409);
  });

  it('a renewal survives a restart: no second client gets the seat while its token is valid', async () => {
    await t.call({ method: 'POST', url: '/v1/licenses/lic-1/revoke' });
    await t.install(await t.vendor.issue({ ver: 2, features: { solver: { seats: 1 } } }));
    const lease = (await t.checkout({ client: { id: 'a' } })).json();
    await t.clock.advance(50_000);
    const renewed = (await t.call({ method: 'POST', url: `/v1/leases/${lease.id}/renew` })).json();
    await t.close(true);
    t = await makeTestApp({ vendor: t.vendor, clock: t.clock, dataDir: t.dataDir });
    await t.clock.advance(30_000); // past the first expiry, before the renewed one
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(t.clock.now());
    expect((await t.checkout({ client: { id: 'b' } })).json().code).toBe('SEATS_EXHAUSTED');
    expect((await t.call({ method: 'POST', url: `/v1/leases/${lease.id}/renew` })).statusCode).toBe(200);
  });

  it('checks in (idempotent) and the seat is free at once', async () => {
    const ids = [];
    for (const id of ['a', 'b', 'c']) ids.push((await t.checkout({ client: { id } })).json().id);
    const del = await t.call({ method: 'DELETE', url: `/v1/leases/${ids[0]}` });
    expect(del.json()).toMatchObject({ state: 'released' });
    expect((await t.call({ method: 'DELETE', url: `/v1/leases/${ids[0]}` })).statusCode).toBe(200);
    expect((await t.checkout({ client: { id: 'd' } })).statusCode).toBe(201);
    const renew = await t.call({ method: 'POST', url: `/v1/leases/${ids[0]}/renew` });
    expect(renew.json().code).toBe('LEASE_RELEASED');
  });

  it('lists leases for admins and force-releases', async () => {
    const a = (await t.checkout({ client: { id: 'a' } })).json();
    const list = await t.call({ method: 'GET', url: '/v1/leases?feature=solver' });
    expect(list.json().leases.map((l: { id: string }) => l.id)).toEqual([a.id]);
    const soft = await t.call({ method: 'POST', url: `/v1/leases/${a.id}/force-release`, payload: {} });
    expect(soft.json()).toMatchObject({ state: 'revoked' });
    expect((await t.call({ method: 'POST', url: `/v1/leases/${a.id}/renew` })).json().code).toBe(
      'LEASE_REVOKED',
    );
    const hard = await t.call({
      method: 'POST',
      url: `/v1/leases/${a.id}/force-release`,
      payload: { immediate: true },
    });
    expect(hard.json()).toMatchObject({ state: 'revoked' });
    expect((await t.call({ method: 'GET', url: '/v1/leases' })).json().leases).toEqual([]);
    expect((await t.call({ method: 'GET', url: '/v1/leases?all=true' })).json().leases).toHaveLength(1);
  });
});
