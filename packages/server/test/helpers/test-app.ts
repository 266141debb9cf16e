import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor, type Vendor } from '@leasehold/devtools';
import { ManualClock } from '@leasehold/domain';
import { type AppDeps, buildApp, ClusterKeyring, ensureAdminToken } from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

export const ADMIN_TOKEN = `lh_admin_${'t'.repeat(43)}`;
export const T0 = Date.UTC(2026, 0, 1);
/** A fixed key-encryption key, so a test can reopen its data directory. */
export const TEST_KEK = createHash('sha256').update('leasehold test kek').digest();

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: SqliteStore;
  readonly clock: ManualClock;
  readonly vendor: Vendor;
  readonly dataDir: string;
  /** inject() with the admin token unless `token` is given (null: no Authorization header). */
  call(options: InjectOptions & { token?: string | null }): Promise<LightMyRequestResponse>;
  install(file?: string): Promise<LightMyRequestResponse>;
  checkout(body?: Record<string, unknown>, token?: string): Promise<LightMyRequestResponse>;
  /** Closes the app and store; with `keepData`, the data directory stays for a reopen. */
  close(keepData?: boolean): Promise<void>;
}

/** A node's HTTP API over a real SQLite file, driven by inject() and a manual clock. */
export async function makeTestApp(
  options: { vendor?: Vendor; clock?: ManualClock; dataDir?: string; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const clock = options.clock ?? new ManualClock(T0);
  const vendor = options.vendor ?? (await makeVendor(clock.now()));
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'leasehold-app-'));
  vendor.writePublicKey(dataDir);
  // The store verifies every license it loads against the same keys the app installs with.
  const licenseKeys = options.deps?.licenseKeys ?? {
    vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]),
  };
  const store = new SqliteStore({
    path: join(dataDir, 'leasehold.db'),
    kek: TEST_KEK,
    licenseKeys,
    now: () => clock.now(),
  });
  const keyring = await ClusterKeyring.load(store, clock.now());
  await ensureAdminToken(store, dataDir, ADMIN_TOKEN, clock, randomUUID);
  const app = await buildApp({
    store,
    clock,
    keyring,
    licenseKeys,
    newId: randomUUID,
    nodeId: 'test-node',
    version: '0.0.0-test',
    ...options.deps,
  });
  const call: TestApp['call'] = ({ token, ...rest }) => {
    const headers = { ...(rest.headers ?? {}) } as Record<string, string>;
    const bearer = token === undefined ? ADMIN_TOKEN : token;
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    return app.inject({ ...rest, headers });
  };
  return {
    app,
    store,
    clock,
    vendor,
    dataDir,
    call,
    async install(file) {
      return call({
        method: 'POST',
        url: '/v1/licenses',
        payload: { license: file ?? (await vendor.issue()) },
      });
    },
    checkout(body = {}, token) {
      return call({
        method: 'POST',
        url: '/v1/leases',
        token,
        payload: { feature: 'solver', client: { id: 'client-1' }, requestId: randomUUID(), ...body },
      });
    },
    async close(keepData = false) {
      await app.close();
      await store.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
