import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Server as TlsServer } from 'node:tls';
import { type Clock, ClusterSeatHandOver, systemClock } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { FastifyInstance } from 'fastify';
import { AuditKeeper } from '../audit/audit-keeper.js';
import type { NodeConfig } from '../config/config-schema.js';
import { EdgeSite } from '../edge/edge-site.js';
import { blockTtlMs, parseSeatBlocks } from '../edge/seat-block-spec.js';
import { buildApp, LOG_REDACT } from '../http/app.js';
import { ClusterKeyring } from '../keys/cluster-keyring.js';
import { resolveKek } from '../keys/key-encryption-key.js';
import { loadDecryptionKeys, loadVendorKeys } from '../keys/vendor-trust.js';
import { addLeaseCacheMetrics } from '../observability/lease-cache-metrics.js';
import { NodeMetrics } from '../observability/node-metrics.js';
import { EpochView } from '../replication/epoch-view.js';
import { ReplicaPromotion, resumeFencing } from '../replication/promotion.js';
import { readOnlyStore } from '../replication/read-only-store.js';
import { type ReplicaNode, startReplicaNode } from '../replication/replica-node.js';
import { HttpUpstreamFeed } from '../replication/upstream-feed.js';
import { ClockHighWater, HIGH_WATER_FILE } from '../time/clock-high-water.js';
import {
  enforceOptionalClientAuth,
  loadEtcdCredentials,
  loadNodeTls,
  loadUpstreamTls,
} from '../tls/node-tls.js';
import { VERSION } from '../version.js';
import { type AdminTokenResult, ensureAdminToken } from './admin-token.js';
import { ClusterClockMargin } from './cluster-clock-margin.js';
import { ETCD_SWEEP_BATCH, LeaseSweeper, SWEEP_BATCH } from './lease-sweeper.js';
import { DATABASE_FILE, openStore, untilStoreAnswers } from './open-store.js';
import { addPeerClockGauge } from './peer-clock-gauge.js';
import { PeerProbe, peerTimeRequest } from './peer-probe.js';

export interface RunningNode {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: LeaseStore;
  /** Resolves when the node has loaded its keys and joined: with the admin token if this start made it. */
  readonly ready: Promise<AdminTokenResult>;
  close(): Promise<void>;
}

export interface NodeRuntime {
  readonly clock?: Clock;
  /** Logs as JSON lines to stdout when undefined; `false` silences them (tests). */
  readonly logger?: false;
  /**
   * The etcd store schema version to work at, below the newest this release knows: a test seam that
   * plays a node of the previous release in the rolling-upgrade test (`LEASEHOLD_TEST_STORE_SCHEMA_VERSION`).
   */
  readonly storeSchemaVersion?: number;
}

export { DATABASE_FILE };

/** Starts one node: opens the store, loads keys, makes the admin token, serves HTTP, sweeps leases. */
export async function startNode(config: NodeConfig, runtime: NodeRuntime = {}): Promise<RunningNode> {
  const clock = runtime.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const [vendorKeys, decryptionKeys] = await Promise.all([
    loadVendorKeys(config.vendorKeys),
    loadDecryptionKeys(config.licenseDecryptionKeys),
  ]);
  // Before the store: a wrong or missing key-encryption key stops the start with KEK_* (never garbage).
  const kek = resolveKek(config, dataDir);
  // Read before serving: an unreadable mark stops the start; a clock behind it keeps /readyz failing.
  const clockHighWater = new ClockHighWater(clock, join(dataDir, HIGH_WATER_FILE));
  // Certificates are read before anything opens: a missing file stops the start (never plaintext instead).
  const tls = loadNodeTls(config);
  // TLS toward a primary (replica or edge), read now for the same reason.
  const upstreamTls = loadUpstreamTls(config);
  const nodeId = config.nodeId ?? `${hostname()}:${config.port === 0 ? process.pid : config.port}`;
  // Migration steps run at the first store operation, once the app (and its logger) exists; the edge site
  // logs through it too.
  let log: FastifyInstance['log'] | undefined;
  // An edge site's blocks exist before its store: the store asks them in every checkout (docs/replication.md).
  const edge =
    config.edgeOf === undefined || config.upstreamToken === undefined
      ? undefined
      : new EdgeSite({
          primaryUrl: config.edgeOf,
          upstreamToken: config.upstreamToken,
          tls: upstreamTls,
          site: nodeId,
          blocks: parseSeatBlocks(config.seatBlocks),
          blockTtlMs: blockTtlMs(config.blockTtl),
          clock,
          newId: randomUUID,
          dataDir,
          log: {
            warn: (obj, msg) => log?.warn(obj, msg),
            info: (obj, msg) => log?.info(obj, msg),
          },
        });
  // Seats are handed over after the cluster's recorded clock margin, never below this node's (cluster-clock-margin.ts).
  const handOver = new ClusterSeatHandOver(config.maxClockSkewMs);
  const opened = openStore(
    config,
    dataDir,
    clock,
    kek.kek,
    loadEtcdCredentials(config),
    nodeId,
    edge?.keeper,
    { vendorKeys, decryptionKeys },
    {
      ...(runtime.storeSchemaVersion !== undefined ? { schemaVersion: runtime.storeSchemaVersion } : {}),
      onSchemaStep: (step) => log?.info(step, 'migrating the store schema'),
    },
    handOver,
  );
  const { membership } = opened;
  // A replica (docs/replication.md) serves a read-only view; only its follower writes the store.
  const replicaOf = config.replicaOf;
  // Until `leasehold replica promote` (docs/replication.md, "Promotion") flips it.
  let promoted = false;
  const store =
    replicaOf === undefined ? opened.store : readOnlyStore(opened.store, replicaOf, () => promoted);
  let replicaNode: ReplicaNode | undefined;
  let fencing: { stop(): Promise<void> } | undefined;
  let selfUrl = '';
  try {
    const keyring = ClusterKeyring.empty();
    // Made here, not by the app, so the sweeper's expiries count into the same registry.
    const metrics = new NodeMetrics({
      nodeId,
      version: VERSION,
      store: store.backend,
      clock,
      processMetrics: true,
    });
    let probe: PeerProbe | undefined;
    let draining = false;
    const epochs = new EpochView(store, clock);
    const promotion =
      replicaOf === undefined
        ? undefined
        : new ReplicaPromotion({
            oldPrimary: new HttpUpstreamFeed({
              url: replicaOf,
              token: config.upstreamToken ?? '',
              tls: upstreamTls,
            }),
            self: () => selfUrl,
            store: opened.store,
            stopFollowing: async () => {
              await replicaNode?.stop();
            },
            becomePrimary: () => {
              promoted = true;
              sweeper.start();
              auditKeeper.start();
            },
            keyring,
            epochs,
            clock,
            maxClockSkewMs: config.maxClockSkewMs,
            log: {
              info: (obj, msg) => app.log.info(obj, msg),
              warn: (obj, msg) => app.log.warn(obj, msg),
            },
          });
    fencing = promotion;
    const app = await buildApp({
      epochs,
      ...(promotion ? { promotion } : {}),
      draining: () => draining,
      startDrain: () => {
        if (!draining) app.log.info('draining on request: /readyz fails until this node restarts');
        draining = true;
      },
      ...(tls ? { https: tls.server } : {}),
      peerReadings: () => probe?.readings() ?? new Map(),
      maxClockSkewMs: config.maxClockSkewMs,
      clockMarginInForceMs: () => handOver.maxClockSkewMs,
      peerHosts: () => probe?.peerHosts() ?? new Set(),
      metrics,
      metricsScopes: config.metricsAuth === 'token' ? ['admin', 'operator'] : ['public'],
      ...(edge ? { edgeSite: edge } : {}),
      store,
      ...(replicaOf === undefined
        ? {}
        : {
            replication: {
              status: () =>
                replicaNode?.status() ?? {
                  primary: replicaOf,
                  position: -1,
                  head: -1,
                  lagRevisions: 0,
                  lagSeconds: 0,
                  lastContactSeconds: undefined,
                  connected: false,
                  appliedChanges: 0,
                  snapshotReloads: 0,
                  lastError: 'not started',
                },
            },
          }),
      clock,
      keyring,
      licenseKeys: { vendorKeys, decryptionKeys },
      newId: randomUUID,
      nodeId,
      membership,
      nodeTtlMs: config.nodeTtlSeconds * 1000,
      // A network round trip per request on etcd; on SQLite a read outside any transaction, 6% of an
      // embedded node's CPU under load (bench/README.md). Revocation through this node is at once either
      // way (tokens.ts clears what it kept).
      tokenCacheMs: 1000,
      version: VERSION,
      logger: runtime.logger ?? { level: config.logLevel, redact: LOG_REDACT },
      clockHighWater,
      trustProxy: config.trustProxy,
      limits: {
        leaseRateLimitPerMinute: config.leaseRateLimitPerMinute,
        authFailureLimitPerMinute: config.authFailureLimitPerMinute,
        bodyLimitBytes: config.bodyLimitBytes,
        maxHeaderBytes: config.maxHeaderBytes,
        requestTimeoutMs: config.requestTimeoutMs,
        headersTimeoutMs: config.headersTimeoutMs,
        keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      },
    });
    log = app.log;
    const clockMargin = new ClusterClockMargin({
      handOver,
      membership,
      clock,
      intervalMs: config.heartbeatIntervalMs,
      log: app.log,
    });
    clockMargin.register(metrics);
    if (kek.generated) {
      app.log.warn(
        { kekFile: kek.source },
        'generated a key-encryption key beside the data it protects; keep it elsewhere (--kek-file or ' +
          'LEASEHOLD_KEK) so that a copy of the data directory alone does not reveal licenses and keys',
      );
    }
    if (tls?.clientAuth === 'optional') enforceOptionalClientAuth(app.server as unknown as TlsServer);
    // On the embedded store the cluster is this node alone: the probe only learns its own host.
    const peerRequest = peerTimeRequest(tls?.peerClient);
    probe = new PeerProbe({
      membership,
      selfId: nodeId,
      clock,
      intervalMs: config.heartbeatIntervalMs,
      timeoutMs: Math.max(250, Math.min(config.heartbeatIntervalMs, 2000)),
      request: peerRequest,
      log: app.log,
    });
    if (config.store === 'etcd') addPeerClockGauge(metrics, probe, () => handOver.maxClockSkewMs);
    addLeaseCacheMetrics(metrics, opened.store);
    if (vendorKeys.size === 0) {
      app.log.warn('no vendor keys configured (--vendor-key): every license install will be refused');
    }
    const sweeper = new LeaseSweeper(metrics.meterStore(store), clock, app.log, {
      intervalMs: config.sweepIntervalMs,
      retentionMs: config.endedLeaseRetentionMs,
      // etcd pipelines the pages of one call (etcd-lease-index.ts); SQLite holds its writer per call.
      batch: config.store === 'etcd' ? ETCD_SWEEP_BATCH : SWEEP_BATCH,
      isLeader: () => membership.leadership('sweeper').leader,
      node: nodeId,
    });
    // The audit trail's singleton work runs on the sweeper's elected node (docs/audit.md).
    const auditKeeper = new AuditKeeper(store, clock, app.log, {
      node: nodeId,
      sealIntervalMs: config.auditSealIntervalMs,
      checkpointIntervalMs: config.auditCheckpointIntervalMs,
      maxLiveEntries: config.auditMaxLiveEntries,
      archiveDir: resolve(config.auditArchiveDir ?? join(dataDir, 'audit-archive')),
      isLeader: () => membership.leadership('sweeper').leader,
      // A clock behind the high-water mark signs nothing, checkpoints included (docs/security.md).
      signer: () => (keyring.loaded && clockHighWater.behindBy() === 0 ? keyring.signer : undefined),
      membership,
    });
    const nodeEvent = (action: 'node.joined' | 'node.left', reason: string) =>
      store
        .recordAudit({
          action,
          actor: 'system',
          subject: `node:${nodeId}`,
          time: clock.now(),
          node: nodeId,
          details: { reason },
        })
        .catch((err: unknown) => app.log.warn({ err, action }, 'could not record the audit event'));
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    selfUrl = config.advertiseUrl ?? url;
    // The node listens at once and finishes starting in the background: one started before its store is
    // reachable answers /healthz, fails /readyz with 503, and becomes ready by itself once the store is.
    let closed = false;
    const announcement = () => ({
      id: nodeId,
      url: config.advertiseUrl ?? url,
      version: VERSION,
      startedAt: clock.now(),
      maxClockSkewMs: config.maxClockSkewMs,
    });
    const bootstrap = (async () => {
      // First, before the keys: no lease is granted without them (routes/leases.ts), so every lease this
      // node writes is under a recorded cluster margin at least its own; until the read, the hand-over
      // assumes the widest margin any node accepts (ClusterSeatHandOver).
      await untilStoreAnswers(
        () => clockMargin.refresh(),
        () => closed,
        app.log,
      );
      clockMargin.start();
      if (replicaOf !== undefined) {
        // No admin token, signing key or audit work of its own: all of it is the primary's, copied.
        const target = opened.sqlite;
        if (!target) throw new Error('a replica needs the embedded store');
        replicaNode = startReplicaNode({
          primary: replicaOf,
          nodeId,
          token: config.upstreamToken ?? '',
          tls: upstreamTls,
          waitMs: config.replicaWaitMs,
          target,
          served: store,
          keyring,
          clock,
          metrics,
          log: app.log,
        });
        await membership
          .join(announcement())
          .catch((err: unknown) => app.log.warn({ err }, 'first heartbeat failed; retrying'));
        probe?.start();
        app.log.info({ primary: replicaOf }, 'following the primary as a read-only replica');
        return { created: undefined, path: undefined };
      }
      const admin = await untilStoreAnswers(
        () => ensureAdminToken(store, dataDir, config.adminToken, clock, randomUUID, app.log),
        () => closed,
        app.log,
      );
      // A replaced admin token is revoked from now on, not once a lookup cached since start-up runs out.
      app.tokenCache.clear();
      // Last, because /readyz reports ready once the keys are in: by then the admin token is too.
      await untilStoreAnswers(
        () => keyring.loadFrom(store, clock.now()),
        () => closed,
        app.log,
      );
      await membership
        .join(announcement())
        .catch((err: unknown) => app.log.warn({ err }, 'first heartbeat failed; retrying'));
      await nodeEvent('node.joined', 'start');
      sweeper.start();
      auditKeeper.start();
      probe?.start();
      edge?.start(store, { vendorKeys, decryptionKeys }, keyring.clusterId);
      if (!closed) {
        const resumed = await resumeFencing(store, {
          oldPrimaryAt: (url) => new HttpUpstreamFeed({ url, token: '', tls: upstreamTls }),
          self: () => selfUrl,
          keyring,
          epochs,
          clock,
          log: app.log,
        });
        if (resumed) fencing = resumed;
      }
      return admin;
    })();
    bootstrap.catch((err: unknown) => app.log.error({ err }, 'start-up failed'));
    if (config.store === 'sqlite') {
      // Nothing to wait for: fail fast on a broken data directory.
      await bootstrap.catch(async (err: unknown) => {
        await app.close();
        throw err;
      });
    }
    return {
      url,
      app,
      store,
      ready: bootstrap,
      async close() {
        // Drain first: /readyz fails at once, everything else is served as before until the delay ends,
        // so balancers (HAProxy fall 2 x 500 ms) and SDKs move to other nodes before this one stops.
        draining = true;
        if (config.drainDelayMs > 0) {
          app.log.info(
            { drainDelayMs: config.drainDelayMs },
            'draining: /readyz fails before the node stops',
          );
          await delay(config.drainDelayMs);
        }
        closed = true;
        await bootstrap.catch(() => undefined);
        await edge?.stop();
        await fencing?.stop();
        await replicaNode?.stop();
        await sweeper.stop();
        await auditKeeper.stop();
        // A leader that leaves says so itself (its successor starts watching without it); others' departures
        // are recorded by the leader when their heartbeat record disappears (audit-keeper.ts).
        if (membership.leadership('sweeper').leader) {
          await nodeEvent('node.left', 'shutdown');
          await auditKeeper.sealAll().catch(() => 0);
        }
        await probe?.stop();
        await clockMargin.stop();
        peerRequest.close();
        await membership.leave();
        // Drain in-flight requests for a moment, then cut the rest: connections whose client aborted a
        // request are never idle to Node, and would hold close() for Fastify's 72 s keep-alive timeout
        // (seen in the fault run: nodes took 51 s to exit on SIGTERM).
        const drained = app.close();
        const cut = setTimeout(() => app.server.closeAllConnections(), 3000);
        await drained;
        clearTimeout(cut);
        await clockHighWater.close();
        await store.close();
      },
    };
  } catch (err) {
    await opened.store.close();
    throw err;
  }
}
