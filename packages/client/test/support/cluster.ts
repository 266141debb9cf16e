import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor } from '@leasehold/devtools';
import { loadConfig, type RunningNode, startNode } from '@leasehold/server';

export const ADMIN_TOKEN = `lh_admin_${'x'.repeat(40)}`;
export const LICENSE_ID = 'lic-client-test';

export interface TestCluster {
  /** Base URLs of the nodes, in start order. */
  readonly urls: readonly string[];
  /** A client token bound to {@link LICENSE_ID}. */
  readonly clientToken: string;
  /** The vendor's public key (SPKI PEM) that signed the license: what a product bakes in. */
  readonly vendorKeys: string;
  /** Calls the admin API on the first node that is still open. */
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Seats in use for one feature of the test license. */
  inUse(feature: string): Promise<number>;
  closeNode(index: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  readonly nodes?: number;
  readonly features?: Record<string, { seats: number }>;
}

/**
 * Real nodes in this process, on loopback ports chosen by the OS. The nodes share one data directory,
 * hence one SQLite store and one cluster signing key: a small stand-in for a cluster, enough for
 * failover and idempotency across nodes. The license allows `cad` (5 seats) and `solo` (1 seat).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'leasehold-client-'));
  const vendor = await makeVendor();
  const vendorKeyPath = vendor.writePublicKey(dataDir);
  const config = loadConfig({
    env: {},
    flags: { port: 0, dataDir, vendorKeys: [vendorKeyPath], adminToken: ADMIN_TOKEN, logLevel: 'silent' },
  });

  const nodes: RunningNode[] = [];
  const open = new Set<number>();
  const closeAll = async () => {
    await Promise.all([...open].map((i) => nodes[i]?.close()));
    open.clear();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // One after the other: the first node creates the cluster key, the others load it.
    for (let i = 0; i < (options.nodes ?? 1); i++) {
      nodes.push(await startNode(config, { logger: false }));
      open.add(i);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const urls = nodes.map((n) => n.url);

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const first = [...open].sort()[0];
    if (first === undefined) throw new Error('every node is closed');
    const response = await fetch(`${urls[first]}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const json = (await response.json()) as T;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };

  const license = await vendor.issue({
    lid: LICENSE_ID,
    features: options.features ?? { cad: { seats: 5 }, solo: { seats: 1 } },
    exp: Math.floor(Date.now() / 1000) + 86_400,
    lease: { ttl: 60, grace: 30, policy: 'strict' },
  });
  try {
    await admin('POST', '/v1/licenses', { license });
    const { token } = await admin<{ token: string }>('POST', '/v1/tokens', {
      scope: 'client',
      license: LICENSE_ID,
      name: 'client-sdk-test',
    });
    return {
      urls,
      clientToken: token,
      vendorKeys: vendor.publicPem,
      admin,
      async inUse(feature) {
        const view = await admin<{ entitlements: { feature: string; inUse: number }[] }>(
          'GET',
          `/v1/licenses/${LICENSE_ID}`,
        );
        return view.entitlements.find((e) => e.feature === feature)?.inUse ?? 0;
      },
      async closeNode(index) {
        if (!open.delete(index)) return;
        await nodes[index]?.close();
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
