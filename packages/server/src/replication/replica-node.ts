import type { Clock } from '@leasehold/domain';
import type { LeaseStore, ReplicaTarget } from '@leasehold/store';
import type { ClusterKeyring } from '../keys/cluster-keyring.js';
import type { NodeMetrics } from '../observability/node-metrics.js';
import { ReplicaFollower, type ReplicaStatus } from './replica-follower.js';
import { HttpUpstreamFeed } from './upstream-feed.js';
import type { UpstreamTls } from './upstream-fetch.js';

export interface ReplicaNodeOptions {
  readonly primary: string;
  /** This node's id: the primary lists its followers by it. */
  readonly nodeId?: string;
  readonly token: string;
  readonly tls: UpstreamTls | undefined;
  readonly waitMs: number;
  /** The node's own embedded store, written by the follower only. */
  readonly target: ReplicaTarget;
  /** The read-only view the node serves; the keyring loads the primary's signing keys from it. */
  readonly served: LeaseStore;
  readonly keyring: ClusterKeyring;
  readonly clock: Clock;
  readonly metrics: NodeMetrics;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface ReplicaNode {
  readonly follower: ReplicaFollower;
  status(): ReplicaStatus;
  stop(): Promise<void>;
}

/**
 * A replica node's replication side (docs/replication.md): the follower, the lag metrics, and the
 * keyring kept to the primary's signing keys (a replica verifies and serves the primary's JWKS; it
 * never makes a key of its own).
 */
export function startReplicaNode(options: ReplicaNodeOptions): ReplicaNode {
  const { metrics, keyring, served, clock, log } = options;
  let keysChanged = true;
  const watchedTarget: ReplicaTarget = {
    replicaPosition: () => options.target.replicaPosition(),
    async applyChanges(changes, page, now) {
      const result = await options.target.applyChanges(changes, page, now);
      if (changes.some((c) => (c.op === 'put' ? c.record.kind : c.kind) === 'signing-key'))
        keysChanged = true;
      return result;
    },
    async replaceState(snapshot, now) {
      const result = await options.target.replaceState(snapshot, now);
      keysChanged = true;
      return result;
    },
  };
  const applied = metrics.counter(
    'leasehold_replica_applied_changes_total',
    'Changes of the primary this replica applied.',
  );
  const reloads = metrics.counter(
    'leasehold_replica_snapshot_reloads_total',
    "Snapshot reloads (the replica fell behind the primary's retained history).",
  );
  let seenApplied = 0;
  let seenReloads = 0;
  const follower = new ReplicaFollower({
    upstream: new HttpUpstreamFeed({
      url: options.primary,
      token: options.token,
      tls: options.tls,
      follower: options.nodeId,
    }),
    target: watchedTarget,
    clock,
    log,
    waitMs: options.waitMs,
    onApplied: (status) => {
      applied.inc(status.appliedChanges - seenApplied);
      reloads.inc(status.snapshotReloads - seenReloads);
      seenApplied = status.appliedChanges;
      seenReloads = status.snapshotReloads;
      if (!keysChanged) return;
      keysChanged = false;
      void served
        .listSigningKeys()
        .then((keys) => (keys.length > 0 ? keyring.loadFrom(served, clock.now()) : undefined))
        .catch((err: unknown) => log.warn({ err }, "could not load the primary's signing keys"));
    },
  });
  metrics.gauge(
    'leasehold_replica_lag_revisions',
    "Revisions of the primary this replica has not applied (its head as last reported minus the replica's position).",
    () => [{ value: follower.status().lagRevisions }],
  );
  metrics.gauge(
    'leasehold_replica_lag_seconds',
    'How long this replica has known of changes it has not applied yet (0 while caught up).',
    () => [{ value: follower.status().lagSeconds }],
  );
  metrics.gauge(
    'leasehold_replica_last_contact_seconds',
    'Seconds since the primary last answered this replica (a cut link shows here, not in the lag).',
    () => {
      const age = follower.status().lastContactSeconds;
      return age === undefined ? [] : [{ value: age }];
    },
  );
  metrics.gauge('leasehold_replica_connected', '1 while the primary answers this replica, else 0.', () => [
    { value: follower.status().connected ? 1 : 0 },
  ]);
  follower.start();
  return { follower, status: () => follower.status(), stop: () => follower.stop() };
}
