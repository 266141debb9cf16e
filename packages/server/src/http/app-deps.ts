import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Clock, LicenseVerificationKeys } from '@leasehold/domain';
import type { LeaseStore, Membership } from '@leasehold/store';
import type { FastifyServerOptions } from 'fastify';
import type { EdgeSite } from '../edge/edge-site.js';
import type { ClusterKeyring } from '../keys/cluster-keyring.js';
import type { LicenseChains } from '../keys/license-chains.js';
import type { PeerReading } from '../node/peer-probe.js';
import type { NodeMetrics } from '../observability/node-metrics.js';
import type { EpochView } from '../replication/epoch-view.js';
import type { Promotion } from '../replication/promotion.js';
import type { ReplicaStatus } from '../replication/replica-follower.js';
import type { ClockHighWater } from '../time/clock-high-water.js';
import type { RouteScope } from './auth.js';
import type { HttpLimits } from './limits/http-limits.js';

/** Everything the HTTP layer needs, injected (STYLE.md rule 4): no route reads the environment or the clock. */
export interface AppDeps {
  readonly store: LeaseStore;
  /** Who else is in the cluster; the embedded store's is a cluster of one. */
  readonly membership?: Membership;
  /** A node counts as healthy while its last heartbeat is younger than this. */
  readonly nodeTtlMs?: number;
  readonly clock: Clock;
  readonly keyring: ClusterKeyring;
  readonly licenseKeys: LicenseVerificationKeys;
  /** The vendor-signed license behind each grant (keys/license-chains.ts); made by buildApp when absent. */
  readonly licenseChains?: LicenseChains;
  /** New ids for leases and tokens (random UUIDs in production, predictable in tests if wanted). */
  readonly newId: () => string;
  readonly nodeId: string;
  readonly version: string;
  readonly logger?: FastifyServerOptions['logger'];
  readonly bodyLimit?: number;
  /** Refuses to sign lease tokens with a clock earlier than the persisted mark; none in some tests. */
  readonly clockHighWater?: ClockHighWater;
  /**
   * Proxies whose X-Forwarded-For names the client's address (addresses, CIDRs or proxy-addr's names);
   * none: the socket's address is the client's (config `trustProxy`, docs/security.md "Limits").
   */
  readonly trustProxy?: readonly string[];
  /** Rate, size and time limits; defaults in http/limits/http-limits.ts. */
  readonly limits?: Partial<HttpLimits>;
  /** The node serves HTTPS with these options (cert, key, client-certificate policy); plaintext when absent. */
  readonly https?: HttpsServerOptions;
  /** The peer probe's last reading of each other node (clock skew, round trip), by node id. */
  readonly peerReadings?: () => ReadonlyMap<string, PeerReading>;
  /** This node's configured clock margin (config `maxClockSkewMs`); shown in /v1/cluster. */
  readonly maxClockSkewMs?: number;
  /**
   * The margin seats are handed over after: the widest any node of the cluster announced
   * (node/cluster-clock-margin.ts); /v1/cluster shows it and judges peers' skew against it.
   */
  readonly clockMarginInForceMs?: () => number;
  /** Hosts of the cluster's nodes: a peer's client certificate must name one (http/auth.ts). */
  readonly peerHosts?: () => ReadonlySet<string>;
  /** How long a node trusts a token lookup before reading the store again (0: every request). */
  readonly tokenCacheMs?: number;
  /** The node's metrics; a fresh set (without process metrics) when absent. */
  readonly metrics?: NodeMetrics;
  /** True once the node drains before stopping: /readyz fails while requests are still served. */
  readonly draining?: () => boolean;
  /** Starts draining without stopping (`leasehold drain`, POST /v1/drain); undone only by a restart. */
  readonly startDrain?: () => void;
  /** Set on an edge node (docs/replication.md): its seat blocks, for `/v1/edge/site`. */
  readonly edgeSite?: Pick<EdgeSite, 'status' | 'keeper'>;
  /** Who may read `/metrics` (default: anyone — see docs/observability.md). */
  readonly metricsScopes?: readonly RouteScope[];
  /** Set on a replica node (`--replica-of`): where it stands in its primary's feed (docs/replication.md). */
  readonly replication?: { status(): Promise<ReplicaStatus> | ReplicaStatus };
  /** The fencing epoch as this node says it (answers, tokens, /v1/cluster); made by buildApp when absent. */
  readonly epochs?: EpochView;
  /** Set on a replica node: `POST /v1/replication/promote` (docs/replication.md, "Promotion"). */
  readonly promotion?: Promotion;
}
