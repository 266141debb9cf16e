export { segmentName, writeSegment } from './audit/archive-segment.js';
export { exportAuditLines } from './audit/audit-export.js';
export { AuditKeeper, type AuditKeeperOptions } from './audit/audit-keeper.js';
export { LEASEHOLD_BIN } from './cli/bin-path.js';
export { type NodeConfig, NodeConfigSchema } from './config/config-schema.js';
export { ConfigError, loadConfig } from './config/load-config.js';
export { buildApp, LOG_REDACT, type RouteSummary } from './http/app.js';
export type { AppDeps } from './http/app-deps.js';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/limits/http-limits.js';
export { ClusterKeyring } from './keys/cluster-keyring.js';
export { KEK_FILE, type KekSettings, type ResolvedKek, resolveKek } from './keys/key-encryption-key.js';
export { loadDecryptionKeys, loadVendorKeys } from './keys/vendor-trust.js';
export { ADMIN_TOKEN_FILE, ensureAdminToken } from './node/admin-token.js';
export { LeaseSweeper } from './node/lease-sweeper.js';
export { DATABASE_FILE, type NodeRuntime, type RunningNode, startNode } from './node/leasehold-node.js';
export { UNMATCHED_ROUTE } from './observability/http-metrics.js';
export { LatencyWindow } from './observability/latency-window.js';
export { LeaderTracker } from './observability/leader-tracker.js';
export {
  type AuditStatus,
  type GaugeSample,
  type GaugeSource,
  type MetricsSummary,
  NodeMetrics,
  type NodeMetricsOptions,
} from './observability/node-metrics.js';
export { ClockHighWater, HIGH_WATER_FILE } from './time/clock-high-water.js';
export { generateApiToken, hashApiToken } from './tokens/api-token.js';
export { VERSION } from './version.js';
