import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The SDK itself depends on no server package: the kit (a devDependency) runs the cluster.
import { type DevCluster, startVendorCluster } from '@leasehold/devtools';

export interface RealCluster {
  readonly cluster: DevCluster;
  readonly urls: string[];
  readonly licenseId: string;
  /** A client-scoped API token bound to the license, as a product would ship. */
  readonly clientToken: string;
  /** The vendor's public key (SPKI PEM) that signed the license: what a product bakes in. */
  readonly vendorKeys: string;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Leases of one client id holding seats now (admin listing). */
  liveLeasesOf(clientId: string): Promise<{ id: string; requestId: string; state: string }[]>;
  stop(): Promise<void>;
}

export interface RealClusterOptions {
  readonly features: Record<string, { seats: number }>;
  readonly ttl: number;
  readonly grace: number;
  readonly policy?: 'strict' | 'overdraft';
}

/** A 3-node Leasehold cluster on a 3-member etcd cluster (real processes, loopback), with one license. */
export async function startRealCluster(name: string, options: RealClusterOptions): Promise<RealCluster> {
  const dir = mkdtempSync(join(tmpdir(), `leasehold-client-${name}-`));
  const { cluster, vendor } = await startVendorCluster(dir);
  const urls = cluster.urls();
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    // Any node that answers: a test may have killed one.
    let last: unknown;
    for (const url of urls) {
      try {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${cluster.adminToken}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.timeout(3000),
        });
        const json = (await res.json()) as T;
        if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
        return json;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
  try {
    const license = await vendor.issue({
      lid: `lic-${name}`,
      features: options.features,
      lease: { ttl: options.ttl, grace: options.grace, policy: options.policy ?? 'strict' },
    });
    await admin('POST', '/v1/licenses', { license });
    const { token } = await admin<{ token: string }>('POST', '/v1/tokens', {
      scope: 'client',
      license: `lic-${name}`,
      name: `client-sdk-${name}`,
    });
    return {
      cluster,
      urls,
      licenseId: `lic-${name}`,
      clientToken: token,
      vendorKeys: vendor.publicPem,
      admin,
      async liveLeasesOf(clientId) {
        const { leases } = await admin<{
          leases: { id: string; requestId: string; state: string; client: { id: string } }[];
        }>('GET', `/v1/leases?license=lic-${name}`);
        return leases.filter((l) => l.client.id === clientId);
      },
      async stop() {
        await cluster.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
