import type { ClusterSeatHandOver } from '@leasehold/domain';
import type { NodeRecord } from '@leasehold/store';
import type { NodeMetrics } from '../observability/node-metrics.js';

/**
 * Keeps this node's seat hand-over at the widest clock margin the cluster's nodes announce
 * (ClusterSeatHandOver: a node configured with a smaller `maxClockSkewMs` than its peers would hand seats
 * over early) and makes a mismatch visible: a warning when the margin widens, the gauge
 * `leasehold_clock_margin_seconds{kind}` (configured vs in force; alert LeaseholdClockMarginMismatch) and
 * each node's announced margin in `GET /v1/cluster`.
 *
 * It learns the margins from the membership records the peer probe reads each round, and once before the
 * node takes its first lease request (leasehold-node.ts), so a node started with a narrower margin adopts
 * the cluster's before it can hand a seat over.
 */
export class ClusterClockMargin {
  constructor(
    readonly handOver: ClusterSeatHandOver,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  /** This node's own margin, from its configuration. */
  get configuredMs(): number {
    return this.handOver.configuredMs;
  }

  /** The margin seats are handed over after: the widest announced since this node started, own included. */
  get inForceMs(): number {
    return this.handOver.maxClockSkewMs;
  }

  /** Takes in the margins of the nodes a membership read returned. */
  observe(nodes: readonly Pick<NodeRecord, 'id' | 'maxClockSkewMs'>[]): void {
    if (!this.handOver.adopt(nodes.map((n) => n.maxClockSkewMs))) return;
    this.log.warn(
      {
        configuredMs: this.configuredMs,
        inForceMs: this.inForceMs,
        announcedBy: nodes.filter((n) => n.maxClockSkewMs === this.inForceMs).map((n) => n.id),
      },
      'a node of this cluster announces a wider clock margin (maxClockSkewMs) than this one: seats are handed ' +
        'over after the wider margin until this node restarts; give every node the same value',
    );
  }

  /** Registers `leasehold_clock_margin_seconds{kind="configured"|"in_force"}`. */
  register(metrics: NodeMetrics): void {
    metrics.gauge(
      'leasehold_clock_margin_seconds',
      "The clock margin (maxClockSkewMs), seconds: this node's configured one, and the one in force (the " +
        'widest any node of the cluster announced since this node started).',
      () => [
        { labels: { kind: 'configured' }, value: this.configuredMs / 1000 },
        { labels: { kind: 'in_force' }, value: this.inForceMs / 1000 },
      ],
      ['kind'],
    );
  }
}
