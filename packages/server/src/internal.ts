/**
 * `@leasehold/server/internal`: the seams that tests, benchmarks and tooling use, outside the public API in
 * `index.ts`. No compatibility promise: names here change with the implementation. It also loads the dev
 * cluster, so it needs `@leasehold/devtools` (a development dependency) where the public entry does not.
 *
 * @packageDocumentation
 */
export { segmentName, writeSegment } from './audit/archive-segment.js';
export { exportAuditLines } from './audit/audit-export.js';
export { AuditKeeper, type AuditKeeperOptions } from './audit/audit-keeper.js';
export { LEASEHOLD_BIN } from './cli/bin-path.js';
export { ENV_KEYS, ENV_SETTINGS, type EnvSetting, type EnvValueKind, envName } from './config/env-keys.js';
export { AuditUploader } from './edge/audit-uploader.js';
export {
  type BlockAnswer,
  type BlockRequest,
  type BlockUpstream,
  HttpBlockUpstream,
} from './edge/block-upstream.js';
export {
  type EdgeSource,
  HttpEdgeSource,
  type UpstreamClientToken,
  type UpstreamLicenseFile,
} from './edge/edge-source.js';
export { EdgeSync, UPSTREAM_TOKEN_NAME } from './edge/edge-sync.js';
export { FeedEdgeSource, type FeedEdgeSourceOptions } from './edge/feed-edge-source.js';
export {
  type HeldBlockStatus,
  SeatBlockKeeper,
  type SeatBlockKeeperOptions,
} from './edge/seat-block-keeper.js';
export { blockTtlMs, parseSeatBlocks, type SeatBlockSpec } from './edge/seat-block-spec.js';
export { buildApp, LOG_REDACT, type RouteSummary } from './http/app.js';
export type { AppDeps } from './http/app-deps.js';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/limits/http-limits.js';
export { ClusterKeyring } from './keys/cluster-keyring.js';
export { KEK_FILE, type KekSettings, type ResolvedKek, resolveKek } from './keys/key-encryption-key.js';
export { loadDecryptionKeys, loadVendorKeys } from './keys/vendor-trust.js';
export { ADMIN_TOKEN_FILE, ensureAdminToken } from './node/admin-token.js';
export { LeaseSweeper } from './node/lease-sweeper.js';
export { DATABASE_FILE } from './node/leasehold-node.js';
export { UNMATCHED_ROUTE } from './observability/http-metrics.js';
export { LatencyWindow } from './observability/latency-window.js';
export { LeaderTracker } from './observability/leader-tracker.js';
export { addLeaseCacheMetrics } from './observability/lease-cache-metrics.js';
export {
  type AuditStatus,
  type GaugeSample,
  type GaugeSource,
  type MetricsSummary,
  NodeMetrics,
  type NodeMetricsOptions,
} from './observability/node-metrics.js';
export {
  FOLLOWER_HEADER,
  FollowerRegistry,
  type FollowerRole,
  type FollowerStatus,
} from './replication/follower-registry.js';
export { readOnlyStore } from './replication/read-only-store.js';
export {
  ReplicaFollower,
  type ReplicaFollowerOptions,
  type ReplicaStatus,
} from './replication/replica-follower.js';
export {
  HttpUpstreamFeed,
  type UpstreamFeed,
  type UpstreamFeedOptions,
} from './replication/upstream-feed.js';
export {
  type FetchLike,
  type UpstreamTls,
  upstreamFetch,
  upstreamTlsFailure,
} from './replication/upstream-fetch.js';
export { type UpstreamCallOptions, UpstreamHttp } from './replication/upstream-http.js';
export { ClockHighWater, HIGH_WATER_FILE } from './time/clock-high-water.js';
export { generateApiToken, hashApiToken } from './tokens/api-token.js';
