import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeVendor, type Vendor } from '../vendor/make-vendor.js';
import { DevCluster, type DevClusterOptions } from './dev-cluster.js';

/**
 * A fresh dev cluster (3 nodes over 3 etcd members unless `options` say otherwise) whose nodes trust a new
 * vendor's key, kept in `dir`: the start of every cluster test and bench that installs licenses.
 *
 * @example
 * ```ts
 * const { cluster, vendor } = await startVendorCluster(dir, { nodes: 2 });
 * ```
 */
export async function startVendorCluster(
  dir: string,
  options: Partial<DevClusterOptions> = {},
): Promise<{ cluster: DevCluster; vendor: Vendor }> {
  mkdirSync(dir, { recursive: true });
  const vendor = await makeVendor(Date.now());
  const cluster = await DevCluster.start({
    nodes: 3,
    etcdMembers: 3,
    dataDir: join(dir, 'cluster'),
    vendorKeys: [vendor.writePublicKey(dir)],
    fresh: true,
    ...options,
  });
  return { cluster, vendor };
}
