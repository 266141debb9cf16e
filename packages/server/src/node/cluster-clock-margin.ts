import { type Clock, type ClusterSeatHandOver, PeriodicTask } from '@leasehold/domain';
import type { Membership } from '@leasehold/store';
import type { NodeMetrics } from '../observability/node-metrics.js';

export interface ClusterClockMarginOptions {
  readonly handOver: ClusterSeatHandOver;
  readonly membership: Pick<Membership, 'clockMargin'>;
  readonly clock: Clock;
  /** How often the recorded margin is raised to this node's and read again (the heartbeat interval). */
  readonly intervalMs: number;
  readonly log: { warn(obj: object, msg: string): void };
}

/**
 * Keeps this node's seat hand-over at the cluster's clock margin: the widest any node was configured
 * with, recorded in the store (`Membership.clockMargin`, ClusterSeatHandOver), so that a node configured
 * narrower than its peers does not hand seats over early. `refresh` raises the record to this node's own
 * margin and reads it: once before the node loads its keys (leasehold-node.ts; until then the hand-over
 * assumes the widest margin any node accepts), then every interval, which is how a node learns that an
 * operator lowered the record (docs/ha.md, "Expiry").
 *
 * A mismatch shows as a warning when the margin in force changes, the gauge
 * `leasehold_clock_margin_seconds{kind}` (configured vs in force; alert LeaseholdClockMarginMismatch) and
 * each node's configured margin in `GET /v1/cluster`.
 */
export class ClusterClockMargin {
  readonly #task: PeriodicTask;

  constructor(private readonly options: ClusterClockMarginOptions) {
    this.#task = new PeriodicTask({
      clock: options.clock,
      intervalMs: options.intervalMs,
      run: () => this.refresh(),
      onError: (err) =>
        options.log.warn({ err }, 'could not read the cluster clock margin; keeping the last one'),
    });
  }

  get configuredMs(): number {
    return this.options.handOver.configuredMs;
  }

  /** The margin seats are handed over after (the widest any node accepts until the record is read). */
  get inForceMs(): number {
    return this.options.handOver.maxClockSkewMs;
  }

  /** Raises the cluster's recorded margin to this node's and takes it in; throws when the store is away. */
  async refresh(): Promise<void> {
    const { handOver, membership, log } = this.options;
    const recorded = await membership.clockMargin(this.configuredMs);
    if (handOver.settle(recorded) && this.inForceMs > this.configuredMs) {
      log.warn(
        { configuredMs: this.configuredMs, inForceMs: this.inForceMs },
        'the cluster clock margin is wider than this node is configured with (another node of the cluster ' +
          'has a larger maxClockSkewMs): seats are handed over after the wider one; give every node the same value',
      );
    }
  }

  /** Refreshes every interval from now on (the first refresh is the caller's, before serving). */
  start(): void {
    this.#task.start();
  }

  stop(): Promise<void> {
    return this.#task.stop();
  }

  /** Registers `leasehold_clock_margin_seconds{kind="configured"|"in_force"}`. */
  register(metrics: NodeMetrics): void {
    metrics.gauge(
      'leasehold_clock_margin_seconds',
      "The clock margin (maxClockSkewMs), seconds: this node's configured one, and the one in force (the " +
        "cluster's recorded margin: the widest any node was configured with).",
      () => [
        { labels: { kind: 'configured' }, value: this.configuredMs / 1000 },
        { labels: { kind: 'in_force' }, value: this.inForceMs / 1000 },
      ],
      ['kind'],
    );
  }
}
