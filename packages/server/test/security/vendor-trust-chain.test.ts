import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient, type LeaseholdClientError } from '@leasehold/client';
import { leaseholdBin, makeVendor, type NodeProcess, type Vendor } from '@leasehold/devtools';
import { verifyLicense } from '@leasehold/domain';
import { parseKek, SqliteStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSqliteNode } from '../helpers/sqlite-node.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';

/**
 * Issue 11, the licensee attack end to end against real `leasehold serve` processes: a customer makes their
 * own "vendor" key, issues themselves a license and starts a stock node that trusts it. A product built
 * with the real vendor's `vendorKeys` must unlock nothing there (LICENSE_UNTRUSTED), and must unlock
 * against a node holding the real vendor's license. Then cluster binding: a license bound to one cluster
 * (`leasehold cluster id` → `license issue --bind-cluster`) is refused by a second cluster's node
 * (LICENSE_CLUSTER_MISMATCH), and when the licensee forces it into that cluster's store anyway (they hold
 * its key-encryption key), the SDK refuses the tokens that cluster signs.
 */
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'lh-trust-chain-'));
const nodes: NodeProcess[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  rmSync(root, { recursive: true, force: true });
});

/** A node in `<root>/<name>` on SQLite trusting `vendor`'s public key. */
async function startNode(name: string, vendor: Vendor): Promise<NodeProcess> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  vendor.writePublicKey(dir);
  const node = await spawnSqliteNode(dir);
  nodes.push(node);
  return node;
}

async function api<T = Record<string, unknown>>(
  node: NodeProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T; type: string | null }> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as T, type: res.headers.get('content-type') };
}

async function clientToken(node: NodeProcess, license: string): Promise<string> {
  const res = await api<{ token: string }>(node, 'POST', '/v1/tokens', { scope: 'client', license });
  expect(res.status).toBe(201);
  return res.body.token;
}

const cli = async (...args: string[]) => (await run(process.execPath, [leaseholdBin(), ...args])).stdout;

describe('trust chain from vendor to product (issue 11), real nodes', () => {
  let vendor: Vendor;
  let selfMade: Vendor;
  /** The product as the real vendor ships it. */
  const product = (node: NodeProcess, token: string, clientId: string) =>
    createClient({
      servers: [node.url],
      token,
      clientId,
      vendorKeys: vendor.publicPem,
      product: 'cad',
      discovery: false,
      retry: { rounds: 1 },
    });

  beforeAll(async () => {
    vendor = await makeVendor();
    selfMade = await makeVendor();
  });

  it('a node trusting a self-made vendor key unlocks nothing; the real vendor license on a stock node unlocks', async () => {
    // The licensee: own key pair, own license with plenty of seats, a stock node that trusts that key.
    const rogue = await startNode('rogue', selfMade);
    const forged = await selfMade.issue({
      lid: 'lic-free',
      product: 'cad',
      features: { solver: { seats: 1000 } },
    });
    expect((await api(rogue, 'POST', '/v1/licenses', { license: forged })).status).toBe(201);
    const rogueClient = product(rogue, await clientToken(rogue, 'lic-free'), 'pirate-1');
    const err = await rogueClient.checkout('solver').then(
      () => undefined,
      (e: LeaseholdClientError) => e,
    );
    expect([err?.code, err?.retryable]).toEqual(['LICENSE_UNTRUSTED', false]);
    expect(err?.message).toMatch(/not one of the vendor keys/);
    expect(rogueClient.isEntitled('solver')).toBe(false);
    expect(rogueClient.metrics().counters.grantsUntrusted).toBe(1);
    await rogueClient.close();

    // The same product against a node holding the real vendor's license.
    const honest = await startNode('honest', vendor);
    const real = await vendor.issue({ lid: 'lic-real', product: 'cad', features: { solver: { seats: 2 } } });
    expect((await api(honest, 'POST', '/v1/licenses', { license: real })).status).toBe(201);
    const client = product(honest, await clientToken(honest, 'lic-real'), 'workstation-1');
    const lease = await client.checkout('solver');
    expect(client.isEntitled('solver')).toBe(true);
    expect(lease.claims).toMatchObject({ lic: 'lic-real', lver: 1 });
    await lease.renew();
    expect(client.isEntitled('solver')).toBe(true);
    await client.close();
  });

  it('binds a license to one cluster: refused on a second cluster, and its tokens refused by the SDK there', async () => {
    const first = await startNode('bound-a', vendor);
    const second = await startNode('bound-b', vendor);
    // Activation: the customer sends `leasehold cluster id`; the vendor issues a license bound to it.
    const clusterId = (await cli('cluster', 'id', '--server', first.url, '--token', ADMIN_TOKEN)).trim();
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const secondId = (await cli('cluster', 'id', '--server', second.url, '--token', ADMIN_TOKEN)).trim();
    expect(secondId).not.toBe(clusterId);
    const keyFile = join(root, 'vendor.key.pem');
    writeFileSync(keyFile, vendor.privatePem, { mode: 0o600 });
    const licenseFile = join(root, 'bound.license');
    await cli(
      'license',
      'issue',
      '--key',
      keyFile,
      '--customer',
      'Acme',
      '--product',
      'cad',
      '--feature',
      'solver=2',
      '--expires',
      new Date(Date.now() + 86_400_000 * 30).toISOString(),
      '--id',
      'lic-bound',
      '--bind-cluster',
      clusterId,
      '--out',
      licenseFile,
    );
    const bound = readFileSync(licenseFile, 'utf8').trim();

    // On the cluster it names: installs, and the product unlocks.
    expect((await api(first, 'POST', '/v1/licenses', { license: bound })).status).toBe(201);
    const client = product(first, await clientToken(first, 'lic-bound'), 'bound-1');
    await client.checkout('solver');
    expect(client.isEntitled('solver')).toBe(true);
    await client.close();

    // On another cluster: refused at install, as problem+json with its code.
    const refused = await api<{ code: string; clusterId: string }>(second, 'POST', '/v1/licenses', {
      license: bound,
    });
    expect([refused.status, refused.body.code, refused.body.clusterId]).toEqual([
      422,
      'LICENSE_CLUSTER_MISMATCH',
      secondId,
    ]);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect((await api<unknown[]>(second, 'GET', '/v1/licenses')).body).toEqual({ licenses: [] });

    // The licensee forces it in through the store (they hold the KEK) and restarts the node: it serves
    // the license, but the SDK refuses tokens from a cluster the license does not name.
    await second.kill('SIGTERM');
    const dataDir = join(root, 'bound-b', 'data');
    const vendorKeys = new Map([[vendor.publicKey.kid, vendor.publicKey]]);
    const store = new SqliteStore({
      path: join(dataDir, 'leasehold.db'),
      kek: parseKek(readFileSync(join(dataDir, 'kek'), 'utf8'), 'kek'),
      licenseKeys: { vendorKeys },
    });
    await store.installLicense(await verifyLicense(bound, { vendorKeys }, Date.now()), Date.now());
    await store.close();
    await second.start();
    const smuggled = product(second, await clientToken(second, 'lic-bound'), 'bound-2');
    const err = await smuggled.checkout('solver').then(
      () => undefined,
      (e: LeaseholdClientError) => e,
    );
    expect(err?.code).toBe('LICENSE_UNTRUSTED');
    expect(err?.message).toContain(
      `bound to cluster ${clusterId}; this token comes from cluster ${secondId}`,
    );
    expect(smuggled.isEntitled('solver')).toBe(false);
    await smuggled.close();
  });
});
