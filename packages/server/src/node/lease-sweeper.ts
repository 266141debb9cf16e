import { type Clock, PeriodicTask } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { FastifyBaseLogger } from 'fastify';

/** Leases one store call expires by default: one group-committed write transaction on SQLite. */
export const SWEEP_BATCH = 1000;
/** Leases one store call expires on etcd, whose sweep keeps several pages of a call in flight. */
export const ETCD_SWEEP_BATCH = 5000;
/**
 * Batches one tick sweeps at most. A tick whose batch came back full sweeps again at once, so 10,000
 * leases that expire together are freed within one tick rather than over ten (issue 14: within 2 s of
 * their deadline); the bound keeps one tick from running on without end behind a flood of expiries.
 */
export const SWEEP_BATCHES_PER_TICK = 20;
/**
 * Ended leases past their retention are purged once per PURGE_EVERY_MS of the clock (not urgent, and a
 * purge reads a range), or every PURGE_EVERY_TICKS ticks when those come sooner: a node told to sweep
 * more often than every second (tests, small sites with a short retention) also purges more often.
 */
export const PURGE_EVERY_MS = 60_000;
export const PURGE_EVERY_TICKS = 60;

export interface SweeperOptions {
  readonly intervalMs: number;
  readonly retentionMs: number;
  /**
   * Leases one store call expires (SWEEP_BATCH by default). etcd pipelines the pages of one call
   * (etcd-lease-index.ts), so a larger call there overlaps more round trips; SQLite ends a call's
   * leases in one transaction, which holds its writer meanwhile.
   */
  readonly batch?: number;
  /** Whether this node is the elected one; followers skip their turn. */
  readonly isLeader?: () => boolean;
  /** This node's id, for the audit records of the expiries it writes. */
  readonly node?: string;
}

/**
 * Marks overdue leases as expired and forgets long-ended ones. The store finds them through its deadline
 * index (`expireLeases`), so a sweep costs the overdue leases, not the live ones (issue 14). Correctness
 * does not depend on it — a seat is free at its deadline plus the clock margin because checkout compares
 * deadlines — it keeps lists, usage and the audit trail (a `lease.expired` record per expiry) current. In
 * a cluster it runs on the elected node only.
 *
 * A tick that expired leases logs one line with their number and the time it took; each lease is logged
 * at debug level only (10,000 expiring together were 10,000 info lines, on the node that sweeps).
 */
export class LeaseSweeper {
  readonly #task: PeriodicTask;
  readonly #batch: number;
  readonly #purgeEveryMs: number;
  #lastPurge: number;

  constructor(
    private readonly store: LeaseStore,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly options: SweeperOptions,
  ) {
    this.#batch = options.batch ?? SWEEP_BATCH;
    if (!Number.isInteger(this.#batch) || this.#batch < 1)
      throw new RangeError('batch must be a whole number of leases >= 1');
    this.#lastPurge = clock.now();
    this.#purgeEveryMs = Math.min(PURGE_EVERY_MS, PURGE_EVERY_TICKS * options.intervalMs);
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
      const started = performance.now();
      const audit = { actor: 'system:sweeper', node: this.options.node ?? 'unnamed' };
      let count = 0;
      let calls = 0;
      for (; calls < SWEEP_BATCHES_PER_TICK; ) {
        const expired = await this.store.expireLeases(now, this.#batch, audit);
        calls++;
        for (const lease of expired) {
          this.log.debug(
            { lease: lease.id, feature: lease.feature, license: lease.licenseId },
            'lease expired',
          );
        }
        count += expired.length;
        if (expired.length < this.#batch) break;
      }
      if (count > 0) {
        const ms = Math.round(performance.now() - started);
        this.log.info({ expired: count, calls, ms }, 'lease sweep expired leases');
      }
      if (now - this.#lastPurge >= this.#purgeEveryMs) {
        this.#lastPurge = now;
        await this.store.purgeEndedLeases(now - this.options.retentionMs);
      }
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
