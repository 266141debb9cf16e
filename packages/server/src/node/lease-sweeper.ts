import { type Clock, PeriodicTask } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { FastifyBaseLogger } from 'fastify';

/** Leases one store call expires: one read of the index range and one group-committed write. */
export const SWEEP_BATCH = 1000;
/**
 * Batches one tick sweeps at most. A tick whose batch came back full sweeps again at once, so 10,000
 * leases that expire together are freed within one tick rather than over ten (issue 14: within 2 s of
 * their deadline); the bound keeps one tick from running on without end behind a flood of expiries.
 */
export const SWEEP_BATCHES_PER_TICK = 20;

export interface SweeperOptions {
  readonly intervalMs: number;
  readonly retentionMs: number;
  /** Whether this node is the elected one; followers skip their turn. */
  readonly isLeader?: () => boolean;
  /** This node's id, for the audit records of the expiries it writes. */
  readonly node?: string;
}

/**
 * Marks overdue leases as expired and forgets long-ended ones. The store finds them through its deadline
 * index (`expireLeases`), so a sweep costs the overdue leases, not the live ones (issue 14). Correctness does not depend on it — a
 * seat is free at its deadline because checkout compares deadlines — it keeps lists, usage and the audit
 * trail (a `lease.expired` record per expiry) current. In a cluster it runs on the elected node only.
 */
export class LeaseSweeper {
  readonly #task: PeriodicTask;
  #ticks = 0;

  constructor(
    private readonly store: LeaseStore,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly options: SweeperOptions,
  ) {
    this.#task = new PeriodicTask({
      clock,
      intervalMs: options.intervalMs,
      run: () => this.sweepOnce(),
      onError: (err) => log.warn({ err }, 'lease sweep failed; retrying at the next interval'),
      background: false,
    });
  }

  start(): void {
    this.#task.start();
  }

  async sweepOnce(): Promise<number> {
    if (this.options.isLeader && !this.options.isLeader()) return 0;
    try {
      const now = this.clock.now();
      const audit = { actor: 'system:sweeper', node: this.options.node ?? 'unnamed' };
      let count = 0;
      for (let batch = 0; batch < SWEEP_BATCHES_PER_TICK; batch++) {
        const expired = await this.store.expireLeases(now, SWEEP_BATCH, audit);
        for (const lease of expired) {
          this.log.info(
            { lease: lease.id, feature: lease.feature, license: lease.licenseId },
            'lease expired',
          );
        }
        count += expired.length;
        if (expired.length < SWEEP_BATCH) break;
      }
      // Purging is cheap but not urgent: about once a minute at the default interval.
      if (++this.#ticks % 60 === 0) await this.store.purgeEndedLeases(now - this.options.retentionMs);
      return count;
    } catch (err) {
      this.log.warn({ err }, 'lease sweep failed; retrying at the next interval');
      return 0;
    }
  }

  /**
   * Resolves once the sweep in progress, if any, has ended. For tests that step a manual clock over a
   * store with real I/O (etcd): a tick that comes while a sweep is still running is skipped.
   */
  settled(): Promise<void> {
    return this.#task.settled();
  }

  /** Stops sweeping; resolves once a sweep in progress has ended. */
  stop(): Promise<void> {
    return this.#task.stop();
  }
}
