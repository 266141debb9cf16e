import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  issueLicense,
  type LicenseClaims,
  ManualClock,
  type PrivateKeyInfo,
  type PublicKeyInfo,
} from '@leasehold/domain';
import {
  type AppDeps,
  buildApp,
  ClusterKeyring,
  DevCluster,
  type DevClusterOptions,
  ensureAdminToken,
} from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

export const ADMIN_TOKEN = `lh_admin_${'t'.repeat(43)}`;
export const T0 = Date.UTC(2026, 0, 1);
/** A fixed key-encryption key, so a test can reopen its data directory. */
export const TEST_KEK = createHash('sha256').update('leasehold test kek').digest();

export interface Vendor {
  readonly key: PrivateKeyInfo;
  readonly publicKey: PublicKeyInfo;
  readonly publicPem: string;
  readonly privatePem: string;
  issue(overrides?: Partial<LicenseClaims>): Promise<string>;
}

export async function makeVendor(now = T0): Promise<Vendor> {
  const pems = await generateKeyPairPems('sig');
  const key = await importPrivateKey(pems.privatePem);
  return {
    key,
    publicKey: await importPublicKey(pems.publicPem),
    publicPem: pems.publicPem,
    privatePem: pems.privatePem,
    issue: (overrides = {}) =>
      issueLicense(
        {
          lid: 'lic-1',
          ver: 1,
          customer: 'Acme',
          product: 'cad',
          features: { solver: { seats: 3 } },
          iat: Math.floor(now / 1000) - 60,
          nbf: Math.floor(now / 1000) - 60,
          exp: Math.floor(now / 1000) + 365 * 86_400,
          lease: { ttl: 60, grace: 0, policy: 'strict' },
          ...overrides,
        },
        key,
      ),
  };
}

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
  writeFileSync(join(dataDir, 'vendor.pub.pem'), vendor.publicPem);
  const store = new SqliteStore({ path: join(dataDir, 'leasehold.db'), kek: TEST_KEK });
  const keyring = await ClusterKeyring.load(store, clock.now());
  await ensureAdminToken(store, dataDir, ADMIN_TOKEN, clock, randomUUID);
  const app = await buildApp({
    store,
    clock,
    keyring,
    licenseKeys: { vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]) },
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

/**
 * A fresh dev cluster (3 nodes over 3 etcd members unless `options` say otherwise) whose nodes trust a new
 * vendor's key, kept in `dir`: the start of every cluster test that installs licenses.
 */
export async function startVendorCluster(
  dir: string,
  options: Partial<DevClusterOptions> = {},
): Promise<{ cluster: DevCluster; vendor: Vendor }> {
  const vendor = await makeVendor(Date.now());
  writeFileSync(join(dir, 'vendor.pub.pem'), vendor.publicPem);
  const cluster = await DevCluster.start({
    nodes: 3,
    etcdMembers: 3,
    dataDir: join(dir, 'cluster'),
    vendorKeys: [join(dir, 'vendor.pub.pem')],
    fresh: true,
    ...options,
  });
  return { cluster, vendor };
}
