import { join } from 'node:path';
import type { Clock, LeaseholdError, LicenseVerificationKeys, SeatHandOver } from '@leasehold/domain';
import {
  EtcdMembership,
  EtcdStore,
  type EtcdStoreOptions,
  type LeaseStore,
  type Membership,
  type SeatCap,
  SingleNodeMembership,
  SqliteStore,
} from '@leasehold/store';
import type { NodeConfig } from '../config/config-schema.js';

/** A node's store and membership, by the configured backend (leasehold-node.ts starts the rest). */

export const DATABASE_FILE = 'leasehold.db';

/** Retries `step` while the store answers STORE_UNAVAILABLE, with capped backoff; other errors end it. */
export async function untilStoreAnswers<T>(
  step: () => Promise<T>,
  cancelled: () => boolean,
  log: { warn(obj: object, msg: string): void },
): Promise<T> {
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await step();
    } catch (err) {
      if ((err as LeaseholdError).code !== 'STORE_UNAVAILABLE' || cancelled()) throw err;
      log.warn({ err, retryInMs: delay }, 'store unavailable while starting; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export function openStore(
  config: NodeConfig,
  dataDir: string,
  clock: Clock,
  kek: Buffer,
  credentials: EtcdStoreOptions['credentials'],
  nodeId: string,
  seatCap: SeatCap | undefined,
  licenseKeys: LicenseVerificationKeys,
  schema: Pick<EtcdStoreOptions, 'schemaVersion' | 'onSchemaStep'>,
  /** When seats go to another lease: the node's ClusterSeatHandOver, widened to the cluster's margin. */
  handOver: SeatHandOver,
): { store: LeaseStore; sqlite?: SqliteStore; membership: Membership } {
  // The stores re-verify every license they load against these keys, from configuration, not the store.
  const now = () => clock.now();
  if (config.store === 'etcd') {
    const store = new EtcdStore({
      kek,
      licenseKeys,
      now,
      ...schema,
      ...(credentials ? { credentials } : {}),
      endpoints: config.etcdEndpoints,
      prefix: config.etcdPrefix,
      node: nodeId,
      callTimeoutMs: config.etcdCallTimeoutMs,
      batchWindowMs: config.etcdBatchWindowMs,
      batchMaxInFlight: config.etcdBatchMaxInFlight,
      handOver,
      readBatchWindowMs: config.etcdReadBatchWindowMs,
      leaseCacheSize: config.etcdLeaseCacheSize,
    });
    const membership = new EtcdMembership({
      gateway: store.gateway,
      keys: store.keys,
      endpoints: config.etcdEndpoints,
      heartbeatMs: config.heartbeatIntervalMs,
      ttlSeconds: config.nodeTtlSeconds,
      clock,
      tasks: ['sweeper'],
    });
    return { store, membership };
  }
  const store = new SqliteStore({
    kek,
    licenseKeys,
    now,
    path: join(dataDir, DATABASE_FILE),
    node: nodeId,
    synchronous: config.sqliteSynchronous,
    ...(seatCap ? { seatCap } : {}),
    feedRetention: config.feedRetention,
    followsPrimary: config.replicaOf !== undefined,
    handOver,
  });
  return { store, sqlite: store, membership: new SingleNodeMembership(() => clock.now(), 'sqlite') };
}
