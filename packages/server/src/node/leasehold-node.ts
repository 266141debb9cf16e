import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Clock, systemClock } from '@leasehold/domain';
import { type LeaseStore, SqliteStore } from '@leasehold/store';
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

/** Starts one node: opens the store, loads keys, makes the admin token, serves HTTP, sweeps leases. */
export async function startNode(config: NodeConfig, runtime: NodeRuntime = {}): Promise<RunningNode> {
  const clock = runtime.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const [vendorKeys, decryptionKeys] = await Promise.all([
    loadVendorKeys(config.vendorKeys),
    loadDecryptionKeys(config.licenseDecryptionKeys),
  ]);
  const store = new SqliteStore({
    path: join(dataDir, DATABASE_FILE),
    synchronous: config.sqliteSynchronous,
  });
  try {
    const keyring = await ClusterKeyring.load(store, clock.now());
    const admin = await ensureAdminToken(store, dataDir, config.adminToken, clock, randomUUID);
    const app = await buildApp({
      store,
      clock,
      keyring,
      licenseKeys: { vendorKeys, decryptionKeys },
      newId: randomUUID,
      nodeId: config.nodeId ?? `${hostname()}:${config.port}`,
      version: VERSION,
      logger: runtime.logger ?? { level: config.logLevel, redact: LOG_REDACT },
    });
    if (vendorKeys.size === 0) {
      app.log.warn('no vendor keys configured (--vendor-key): every license install will be refused');
    }
    const sweeper = new LeaseSweeper(store, clock, app.log, {
      intervalMs: config.sweepIntervalMs,
      retentionMs: config.endedLeaseRetentionMs,
    });
    await app.listen({ host: config.host, port: config.port });
    sweeper.start();
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      app,
      store,
      createdAdminToken: admin.created,
      adminTokenPath: admin.path,
      async close() {
        await sweeper.stop();
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
