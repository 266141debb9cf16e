import type { Clock } from '@leasehold/domain';
import type { Membership } from '@leasehold/store';
import { Counter } from 'prom-client';
import { LeaderTracker } from './leader-tracker.js';
import type { NodeMetrics } from './node-metrics.js';
import { scrapeCache } from './scrape-cache.js';

/** How long one membership read serves scrapes (about a heartbeat). */
const CLUSTER_VIEW_TTL_MS = 2000;

/**
 * The cluster as this node sees it: each live node's heartbeat age, the store's members, and the store
 * leader changes seen. Changes are observed when the members are read (at scrape time, or through
 * `observe()`): two elections between two reads that end with the same leader still raise the raft
 * term, so they count as one change rather than none.
 */
export function addClusterGauges(
  metrics: NodeMetrics,
  membership: Membership,
  clock: Clock,
): { observe(): Promise<void> } {
  const now = () => clock.monotonic();
  const nodes = scrapeCache(() => membership.nodes(), CLUSTER_VIEW_TTL_MS, now);
  const tracker = new LeaderTracker();
  const members = scrapeCache(
    async () => {
      const view = await membership.storeMembers();
      tracker.observe(view);
      return view;
    },
    CLUSTER_VIEW_TTL_MS,
    now,
  );
  const observe = async () => {
    await members().catch(() => undefined);
  };

  metrics.gauge(
    'leasehold_peer_heartbeat_age_seconds',
    "Seconds since each live node's last heartbeat (by that node's clock), by node id.",
    async () =>
      (await nodes().catch(() => [])).map((n) => ({
        labels: { node: n.id },
        value: Math.max(0, (clock.now() - n.heartbeatAt) / 1000),
      })),
    ['node'],
  );
  metrics.gauge('leasehold_cluster_nodes', 'Nodes with a live heartbeat.', async () => {
    const live = await nodes().catch(() => undefined);
    return live ? [{ value: live.length }] : [];
  });
  metrics.gauge(
    'leasehold_store_members',
    'Store members (etcd members; 1 for SQLite) by health as seen from this node.',
    async () => {
      const view = await members().catch(() => undefined);
      if (!view) return [];
      const healthy = view.filter((m) => m.healthy).length;
      return [
        { labels: { state: 'healthy' }, value: healthy },
        { labels: { state: 'unhealthy' }, value: view.length - healthy },
      ];
    },
    ['state'],
  );
  if (!metrics.registry.getSingleMetric('leasehold_store_leader_changes_total')) {
    new Counter({
      name: 'leasehold_store_leader_changes_total',
      help: 'Store (etcd) leader changes this node has seen since it started.',
      registers: [metrics.registry],
      async collect() {
        await observe();
        this.reset();
        this.inc(tracker.changes);
      },
    });
  }
  return { observe };
}
