import { join } from 'node:path';
import { makeVendor, type NodeProcess, spawnNode, type Vendor } from '@leasehold/devtools';
import { ADMIN_TOKEN } from './test-app.js';

/** The admin token's headers for JSON calls to a test node. */
export const ADMIN_HEADERS = Object.freeze({
  authorization: `Bearer ${ADMIN_TOKEN}`,
  'content-type': 'application/json',
});

export interface LicensedPrimary {
  readonly vendor: Vendor;
  /** The flags every node of the test starts with: warn-level logs, a port the OS picks, the vendor key. */
  readonly common: readonly string[];
  readonly primary: NodeProcess;
  /** POSTs `body` as JSON to `url` + `path` with the admin token. */
  post(url: string, path: string, body: object): Promise<Response>;
  /** Creates an API token on the primary (`POST /v1/tokens` with `body`); its secret. */
  token(body: object): Promise<string>;
}

/**
 * A primary for the multi-process tests (edge cut, promotion): an embedded `leasehold serve` in
 * `<dir>/<dataDir>` trusting a new vendor's key, with `lic-1` installed — `solver` with `seats` seats, leases
 * of `ttlSeconds`, no grace, strict. The primary is pushed into `nodes` as soon as it runs, so the test's
 * afterAll kills it whatever fails next.
 */
export async function startLicensedPrimary(
  dir: string,
  nodes: NodeProcess[],
  options: {
    readonly dataDir: string;
    readonly nodeId: string;
    readonly seats: number;
    readonly ttlSeconds: number;
  },
): Promise<LicensedPrimary> {
  const vendor = await makeVendor(Date.now());
  const vendorKey = vendor.writePublicKey(dir);
  const common = ['--log-level', 'warn', '--port', '0', '--vendor-key', vendorKey];
  const primary = await spawnNode({
    name: 'primary',
    args: [...common, '--data-dir', join(dir, options.dataDir), '--node-id', options.nodeId],
    env: { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN },
    readiness: 'readyz',
  });
  nodes.push(primary);
  const post = (url: string, path: string, body: object) =>
    fetch(`${url}${path}`, { method: 'POST', headers: ADMIN_HEADERS, body: JSON.stringify(body) });
  const license = await vendor.issue({
    features: { solver: { seats: options.seats } },
    lease: { ttl: options.ttlSeconds, grace: 0, policy: 'strict' },
  });
  const installed = await post(primary.url, '/v1/licenses', { license });
  if (installed.status !== 201) throw new Error(`installing the license answered ${installed.status}`);
  const token = async (body: object) => {
    const made = await post(primary.url, '/v1/tokens', body);
    if (made.status !== 201) throw new Error(`creating a token answered ${made.status}`);
    return ((await made.json()) as { token: string }).token;
  };
  return { vendor, common, primary, post, token };
}
