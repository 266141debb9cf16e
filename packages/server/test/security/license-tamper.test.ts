import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Issue 11, end to end through the API: "changing a 2-seat license to 1000 seats directly in
 * data/leasehold.db (no KEK needed), then restarting, let three clients check out. Nothing was audited."
 */
describe('a license edited in the data file, then a restart', () => {
  let t: TestApp;
  afterEach(() => t.close());

  it('refuses the license with LICENSE_TAMPERED, shows the signed seats, audits it: no third seat', async () => {
    t = await makeTestApp();
    expect((await t.install(await t.vendor.issue({ features: { solver: { seats: 2 } } }))).statusCode).toBe(
      201,
    );
    for (const id of ['a', 'b']) expect((await t.checkout({ client: { id } })).statusCode).toBe(201);
    expect((await t.checkout({ client: { id: 'c' } })).json().code).toBe('SEATS_EXHAUSTED');
    const { vendor, clock, dataDir } = t;
    await t.close(true);

    const db = new Database(join(dataDir, 'leasehold.db'));
    db.exec("UPDATE entitlements SET seats = 1000 WHERE feature = 'solver'");
    db.exec('UPDATE licenses SET expires_at = expires_at + 3650 * 86400000');
    db.close();

    t = await makeTestApp({ vendor, clock, dataDir });
    for (const id of ['c', 'd', 'e']) {
      const res = await t.checkout({ client: { id } });
      expect(res.statusCode).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe('LICENSE_TAMPERED');
    }
    const view = (await t.call({ method: 'GET', url: '/v1/licenses/lic-1' })).json();
    expect(view.state).toBe('refused');
    expect(view.refusal).toMatchObject({ code: 'LICENSE_TAMPERED', fields: ['expiresAt', 'seats:solver'] });
    expect(view.entitlements).toEqual([{ feature: 'solver', seats: 2, inUse: 2 }]);
    const tampered = (await t.store.pendingAudit(1000)).filter((e) => e.action === 'license.tampered');
    expect(tampered).toMatchObject([{ subject: 'license:lic-1', actor: 'system:integrity' }]);

    // Installing the vendor's file again repairs the record: two seats, both still taken.
    const again = await t.install(await t.vendor.issue({ features: { solver: { seats: 2 } } }));
    expect([again.statusCode, again.json().license.state]).toEqual([201, 'active']);
    expect((await t.checkout({ client: { id: 'f' } })).json().code).toBe('SEATS_EXHAUSTED');
  });
});
