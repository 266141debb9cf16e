import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Clock, type LeaseholdError, systemClock } from '@leasehold/domain';
import {
  EtcdMembership,
  EtcdStore,
  type LeaseStore,
  type Membership,
  SingleNodeMembership,
  SqliteStore,
} from '@leasehold/store';
import type { FastifyInstance } from 'fastify';
import type { NodeConfig } from '../config/config-schema.js';
import { buildApp, LOG_REDACT } from '../http/app.js';
import { ClusterKeyring } from '../keys/cluster-keyring.js';
import { loadDecryptionKeys, loadVendorKeys } from '../keys/vendor-trust.js';
import { VERSION } from '../version.js';
import { ensureAdminToken } from './admin-token.js';
import { LeaseSweeper } from './lease-sweeper.js';

export interface RunningNode {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: LeaseStore;
  /** Set when this start created the admin token (shown once). */
  readonly createdAdminToken: string | undefined;
  readonly adminTokenPath: string | undefined;
  close(): Promise<void>;
}

export interface NodeRuntime {
  readonly clock?: Clock;
  /** Logs as JSON lines to stdout when undefined; `false` silences them (tests). */
  readonly logger?: false;
}

export const DATABASE_FILE = 'leasehold.db';

/** Retries `step` while the store answers STORE_UNAVAILABLE, with capped backoff; other errors end it. */
async function untilStoreAnswers<T>(step: () => Promise<T>): Promise<T> {
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await step();
    } catch (err) {
      if ((err as LeaseholdError).code !== 'STORE_UNAVAILABLE') throw err;
      process.stderr.write(`leasehold: store unavailable at start-up; retrying in ${delay} ms\n`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function openStore(
  config: NodeConfig,
  dataDir: string,
  clock: Clock,
): { store: LeaseStore; membership: Membership } {
  if (config.store === 'etcd') {
    const store = new EtcdStore({
      endpoints: config.etcdEndpoints,
      prefix: config.etcdPrefix,
      callTimeoutMs: config.etcdCallTimeoutMs,
    });
    const membership = new EtcdMembership({
      gateway: store.gateway,
      keys: store.keys,
      endpoints: config.etcdEndpoints,
      heartbeatMs: config.heartbeatIntervalMs,
      ttlSeconds: config.nodeTtlSeconds,
      now: () => clock.now(),
      tasks: ['sweeper'],
    });
    return { store, membership };
  }
  const store = new SqliteStore({
    path: join(dataDir, DATABASE_FILE),
    synchronous: config.sqliteSynchronous,
  });
  return { store, membership: new SingleNodeMembership(() => clock.now(), 'sqlite') };
}

/** Starts one node: opens the store, loads keys, makes the admin token, serves HTTP, sweeps leases. */
export async function startNode(config: NodeConfig, runtime: NodeRuntime = {}): Promise<RunningNode> {
  const clock = runtime.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const [vendorKeys, decryptionKeys] = await Promise.all([
    loadVendorKeys(config.vendorKeys),
    loadDecryptionKeys(config.licenseDecryptionKeys),
  ]);
  const { store, membership } = openStore(config, dataDir, clock);
  try {
    const nodeId = config.nodeId ?? `${hostname()}:${config.port === 0 ? process.pid : config.port}`;
    // A node started before its store is reachable waits here and starts by itself once it is.
    const keyring = await untilStoreAnswers(() => ClusterKeyring.load(store, clock.now()));
    const admin = await untilStoreAnswers(() =>
      ensureAdminToken(store, dataDir, config.adminToken, clock, randomUUID),
    );
    const app = await buildApp({
      store,
      clock,
      keyring,
      licenseKeys: { vendorKeys, decryptionKeys },
      newId: randomUUID,
      nodeId,
      membership,
      nodeTtlMs: config.nodeTtlSeconds * 1000,
      // One store read per request is free on SQLite and a network round trip on etcd.
      tokenCacheMs: config.store === 'etcd' ? 1000 : 0,
      version: VERSION,
      logger: runtime.logger ?? { level: config.logLevel, redact: LOG_REDACT },
    });
    if (vendorKeys.size === 0) {
      app.log.warn('no vendor keys configured (--vendor-key): every license install will be refused');
    }
    const sweeper = new LeaseSweeper(store, clock, app.log, {
      intervalMs: config.sweepIntervalMs,
      retentionMs: config.endedLeaseRetentionMs,
      isLeader: () => membership.leadership('sweeper').leader,
    });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    // Joining waits for nothing: a node started before its store is up serves 503s and joins by itself.
    membership
      .join({ id: nodeId, url: config.advertiseUrl ?? url, version: VERSION, startedAt: clock.now() })
      .catch((err: unknown) => app.log.warn({ err }, 'first heartbeat failed; retrying'));
    sweeper.start();
    return {
      url,
      app,
      store,
      createdAdminToken: admin.created,
      adminTokenPath: admin.path,
      async close() {
        await sweeper.stop();
        await membership.leave();
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
