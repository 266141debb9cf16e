import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@leasehold/domain';
import { ensureAdminToken, hashApiToken } from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, TEST_KEK, type TestApp } from '../helpers/test-app.js';

/** issue 11: a revoked bootstrap admin token must not come back when the node restarts. */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('bootstrap admin token revocation', () => {
  it('a revoked preset stays revoked across a restart over the same store (401), other admins keep working', async () => {
    t = await makeTestApp();
    const { vendor, clock, dataDir } = t;
    const second = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'admin', name: 'ops' },
    });
    expect(second.statusCode, second.body).toBe(201);
    const other = second.json().token as string;
    const bootstrap = (await t.store.findTokenByHash(hashApiToken(ADMIN_TOKEN)))?.id as string;
    expect(
      (await t.call({ method: 'DELETE', url: `/v1/tokens/${bootstrap}`, token: other })).statusCode,
    ).toBe(200);
    expect((await t.call({ method: 'GET', url: '/v1/tokens' })).statusCode).toBe(401);

    await t.close(true);
    // The restart runs the same bootstrap (ensureAdminToken with the same preset) over the same file.
    t = await makeTestApp({ vendor, clock, dataDir });
    expect((await t.call({ method: 'GET', url: '/v1/tokens' })).statusCode).toBe(401);
    expect((await t.call({ method: 'GET', url: '/v1/tokens', token: other })).statusCode).toBe(200);
    await t.close(true);
    t = await makeTestApp({ vendor, clock, dataDir });
    expect((await t.call({ method: 'GET', url: '/v1/tokens' })).statusCode).toBe(401);
  });

  it('says why it ignored the token, and refuses to start when no admin path is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-admin-'));
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const store = new SqliteStore({
      path: join(dir, 'leasehold.db'),
      kek: TEST_KEK,
      licenseKeys: { vendorKeys: new Map() },
    });
    try {
      const warnings: string[] = [];
      const log = { warn: (_: object, msg: string) => warnings.push(msg) };
      // From data/admin.token this time.
      writeFileSync(join(dir, 'admin.token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
      await ensureAdminToken(store, dir, undefined, clock, randomUUID, log);
      const record = await store.findTokenByHash(hashApiToken(ADMIN_TOKEN));
      await store.revokeToken(record?.id as string, clock.now());
      await expect(ensureAdminToken(store, dir, undefined, clock, randomUUID, log)).rejects.toThrow(
        /was revoked .* no other admin token is live: refusing to start/,
      );
      expect((await store.findTokenByHash(hashApiToken(ADMIN_TOKEN)))?.revokedAt).toBeDefined();
      // With another admin token live, the node starts and logs why it ignored the revoked one.
      await store.createToken({
        id: randomUUID(),
        hash: hashApiToken(`lh_admin_${'o'.repeat(43)}`),
        scope: 'admin',
        licenseId: undefined,
        name: 'ops',
        createdAt: clock.now(),
        revokedAt: undefined,
      });
      await expect(ensureAdminToken(store, dir, undefined, clock, randomUUID, log)).resolves.toEqual({
        created: undefined,
        path: undefined,
      });
      expect(warnings).toEqual([
        expect.stringMatching(/ignoring the bootstrap admin token from .*admin\.token: it was revoked/),
      ]);
      expect((await store.findTokenByHash(hashApiToken(ADMIN_TOKEN)))?.revokedAt).toBeDefined();
      // Rotating the preset (a new value) still works: the new token becomes the bootstrap token.
      const rotated = `lh_admin_${'r'.repeat(43)}`;
      await ensureAdminToken(store, dir, rotated, clock, randomUUID, log);
      expect((await store.findTokenByHash(hashApiToken(rotated)))?.revokedAt).toBeUndefined();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
