import { makeVendor } from '@leasehold/devtools';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, T0, type TestApp } from './helpers/test-app.js';

describe('license API', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('installs a license (201), accepts the same file again (200) and upgrades to a higher version', async () => {
    const file = await t.vendor.issue();
    const first = await t.install(file);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      outcome: 'installed',
      license: {
        id: 'lic-1',
        version: 1,
        state: 'active',
        entitlements: [{ feature: 'solver', seats: 3, inUse: 0 }],
        lease: { ttlSeconds: 60, graceSeconds: 0, policy: 'strict' },
        signedBy: t.vendor.publicKey.kid,
      },
    });
    expect((await t.install(file)).statusCode).toBe(200);
    const v2 = await t.install(await t.vendor.issue({ ver: 2, features: { solver: { seats: 9 } } }));
    expect(v2.statusCode).toBe(201);
    expect(v2.json().outcome).toBe('upgraded');
    const list = await t.call({ method: 'GET', url: '/v1/licenses' });
    expect(list.json().licenses.map((l: { version: number }) => l.version)).toEqual([2]);
  });

  it('refuses a replay of an older version with LICENSE_REPLAYED', async () => {
    const v1 = await t.vendor.issue();
    await t.install(await t.vendor.issue({ ver: 2 }));
    const replay = await t.install(v1);
    expect(replay.statusCode).toBe(409);
    expect(replay.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replay.json()).toMatchObject({ code: 'LICENSE_REPLAYED', installedVersion: 2, retryable: false });
  });

  it('refuses an upgrade signed by another trusted vendor key than the original (issue 11)', async () => {
    const vendor = await makeVendor(T0);
    const other = await makeVendor(T0);
    const both = new Map([
      [vendor.publicKey.kid, vendor.publicKey],
      [other.publicKey.kid, other.publicKey],
    ]);
    await t.close();
    t = await makeTestApp({ vendor, deps: { licenseKeys: { vendorKeys: both } } });
    expect((await t.install(await vendor.issue())).statusCode).toBe(201);
    const takeover = await t.install(await other.issue({ ver: 2, features: { solver: { seats: 1000 } } }));
    expect([takeover.statusCode, takeover.json()]).toEqual([
      422,
      expect.objectContaining({
        code: 'LICENSE_KEY_UNTRUSTED',
        installedSignedBy: vendor.publicKey.kid,
        signedBy: other.publicKey.kid,
      }),
    ]);
    const [installed] = (await t.call({ method: 'GET', url: '/v1/licenses' })).json().licenses;
    expect(installed).toMatchObject({ version: 1, signedBy: vendor.publicKey.kid });
    // The original key still upgrades it.
    expect((await t.install(await vendor.issue({ ver: 2 }))).json().outcome).toBe('upgraded');
  });

  it('answers each kind of bad license with its own code', async () => {
    const stranger = await makeVendor();
    const good = await t.vendor.issue();
    const [h, p] = good.split('.');
    const cases: [string, string, number][] = [
      ['not a license', 'LICENSE_MALFORMED', 400],
      [`${h}.${p}.AAAA`, 'LICENSE_SIGNATURE_INVALID', 422],
      [await stranger.issue(), 'LICENSE_KID_UNKNOWN', 422],
      [await t.vendor.issue({ exp: Math.floor(t.clock.now() / 1000) - 1 }), 'LICENSE_EXPIRED', 422],
      [await t.vendor.issue({ nbf: Math.floor(t.clock.now() / 1000) + 3600 }), 'LICENSE_NOT_YET_VALID', 422],
    ];
    for (const [file, code, status] of cases) {
      const res = await t.install(file);
      expect([res.statusCode, res.json().code], code).toEqual([status, code]);
    }
    expect((await t.call({ method: 'GET', url: '/v1/licenses' })).json().licenses).toEqual([]);
  });

  it('revokes: the license shows revoked and grants no seats', async () => {
    await t.install();
    const revoked = await t.call({ method: 'POST', url: '/v1/licenses/lic-1/revoke' });
    expect(revoked.json()).toMatchObject({ state: 'revoked' });
    expect((await t.checkout()).json().code).toBe('LICENSE_REVOKED');
    expect((await t.call({ method: 'GET', url: '/v1/licenses/nope' })).json().code).toBe('LICENSE_NOT_FOUND');
  });
});
