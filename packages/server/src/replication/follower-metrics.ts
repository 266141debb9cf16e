import type { NodeMetrics } from '../observability/node-metrics.js';
import type { FollowerRegistry } from './follower-registry.js';

/**
 * The primary's view of its followers in `/metrics` (docs/observability.md). The `follower` label is a
 * node id; the registry keeps at most a few hundred and forgets those gone for ten minutes, so the label
 * set stays bounded like the `node` label of the peer gauges.
 */
export function followerMetrics(metrics: NodeMetrics, followers: FollowerRegistry): void {
  metrics.gauge(
    'leasehold_follower_last_seen_seconds',
    'Seconds since each replica or edge site last called this node (a replica in a long-poll counts as seen).',
    () =>
      followers.list().map((f) => ({
        labels: { follower: f.id, role: f.role },
        value: f.polling ? 0 : f.lastSeenSeconds,
      })),
    ['follower', 'role'],
  );
  metrics.gauge(
    'leasehold_follower_lag_revisions',
    "Replicas: this node's newest head minus the replica's position (the after of its last feed request).",
    () =>
      followers
        .list()
        .flatMap((f) =>
          f.lagRevisions === undefined ? [] : [{ labels: { follower: f.id }, value: f.lagRevisions }],
        ),
    ['follower'],
  );
  metrics.gauge(
    'leasehold_follower_lag_seconds',
    'Replicas: how long ago this node first answered a head beyond the replica position (0 while caught up).',
    () =>
      followers
        .list()
        .flatMap((f) =>
          f.lagSeconds === undefined ? [] : [{ labels: { follower: f.id }, value: f.lagSeconds }],
        ),
    ['follower'],
  );
}
