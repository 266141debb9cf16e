import type { Snapshot, StatsSummary } from '@leasehold/dashboard/snapshot';
import { type Clock, LeaseholdError, PeriodicTask } from '@leasehold/domain';
import { type LeaseStore, type Membership, operationDeadline } from '@leasehold/store';
import { NodeRoster } from './node-roster.js';

/**
 * What the dashboard's live stream pushes. The types are the dashboard's (`@leasehold/dashboard/snapshot`),
 * the one definition the page reads them with; the server builds them.
 */
export type DashboardSnapshot = Snapshot;
export type { StatsSummary };

export interface LiveSnapshotsOptions {
  readonly store: LeaseStore;
  readonly membership: Membership | undefined;
  readonly nodeId: string;
  readonly nodeTtlMs: number;
  /** Paces the snapshots and the change gap, and stamps each snapshot's time. */
  readonly clock: Clock;
  readonly stats: () => StatsSummary | null;
  readonly intervalMs: number;
  /**
   * Change-driven snapshots start at least this far apart: a node taking a thousand checkouts a second
   * must not rebuild (and re-read the store for) a thousand snapshots a second.
   */
  readonly minGapMs: number;
  readonly maxSubscribers: number;
  /** How long a departed node stays on the dashboard as down. */
  readonly keepDepartedMs: number;
}

type Subscriber = (snapshot: DashboardSnapshot) => void;

/**
 * One snapshot loop per node, shared by every open stream: the store is read once a second however many
 * dashboards watch, and not at all when none do. A change made through this node (`changed`) pushes a
 * new snapshot at once; changes made through other nodes show at the next tick.
 */
export class LiveSnapshots {
  readonly #subscribers = new Set<Subscriber>();
  readonly #roster: NodeRoster;
  /** Builds and pushes one snapshot at a time; a refresh asked for meanwhile follows right after. */
  readonly #loop: PeriodicTask;
  #closed = false;
  #lastStart = Number.NEGATIVE_INFINITY;
  /** Cancels the change-driven refresh waiting out the minimum gap. */
  #cancelPending: (() => void) | undefined;

  constructor(private readonly options: LiveSnapshotsOptions) {
    this.#roster = new NodeRoster(options.nodeId, options.nodeTtlMs, options.keepDepartedMs);
    this.#loop = new PeriodicTask({
      clock: options.clock,
      intervalMs: options.intervalMs,
      run: () => this.#push(),
      // A part the store could not give is in the snapshot's `problems`; a stream that fails to write
      // is closed by its own socket. Nothing is left for the loop to report.
      onError: () => undefined,
    });
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Adds a stream; it gets a snapshot right away and then every interval. Returns the unsubscribe. */
  subscribe(subscriber: Subscriber): () => void {
    if (this.#closed) throw new LeaseholdError('NODE_SHUTTING_DOWN');
    if (this.#subscribers.size >= this.options.maxSubscribers) {
      throw new LeaseholdError('TOO_MANY_STREAMS', `this node serves at most ${this.options.maxSubscribers}`);
    }
    this.#subscribers.add(subscriber);
    // The loop's timer must not inherit the request's store deadline (an AsyncLocalStorage value that
    // would expire 1.5 s after the first subscriber arrived): start it outside any request context.
    operationDeadline.exit(() => this.#loop.start());
    this.refreshSoon();
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stop();
    };
  }

  /**
   * Something changed through this node: push a snapshot as soon as the minimum gap since the last one
   * allows. Any number of calls within the gap make one snapshot.
   */
  changed(): void {
    if (this.#subscribers.size === 0 || this.#closed || this.#cancelPending) return;
    const { clock, minGapMs } = this.options;
    const wait = Math.max(0, this.#lastStart + minGapMs - clock.monotonic());
    this.#cancelPending = operationDeadline.exit(() =>
      clock.setTimer(
        () => {
          this.#cancelPending = undefined;
          this.refreshSoon();
        },
        wait,
        true,
      ),
    );
  }

  /** Builds and pushes a snapshot now, or right after the one being built (coalesced). */
  refreshSoon(): void {
    if (this.#subscribers.size === 0 || this.#closed) return;
    void this.#loop.trigger();
  }

  close(): void {
    this.#closed = true;
    this.#subscribers.clear();
    this.#stop();
  }

  #stop(): void {
    // A snapshot being built still ends (and goes to nobody); stop() only waits for it.
    void this.#loop.stop();
    this.#cancelPending?.();
    this.#cancelPending = undefined;
  }

  async #push(): Promise<void> {
    if (this.#subscribers.size === 0 || this.#closed) return;
    this.#lastStart = this.options.clock.monotonic();
    // The store's deadline is in real time (operationDeadline's scale), like every store call's.
    const snapshot = await operationDeadline.run(performance.now() + this.options.intervalMs, () =>
      this.#build(),
    );
    for (const s of this.#subscribers) s(snapshot);
  }

  async #build(): Promise<DashboardSnapshot> {
    const { store, membership } = this.options;
    const problems: string[] = [];
    const part = async <T>(name: string, read: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await read();
      } catch (err) {
        problems.push(`${name}: ${err instanceof LeaseholdError ? err.code : 'INTERNAL'}`);
        return fallback;
      }
    };
    const now = this.options.clock.now();
    const [live, storeMembers, usage] = await Promise.all([
      part('nodes', async () => (membership ? membership.nodes() : []), undefined),
      part('store members', async () => (membership ? membership.storeMembers() : []), []),
      part('usage', () => store.seatUsage(now), []),
    ]);
    // Without a fresh node list, age the remembered one: a store outage must not freeze the heartbeats.
    const nodes = this.#roster.update(live, this.options.clock.now());
    return {
      time: new Date(now).toISOString(),
      node: this.options.nodeId,
      store: store.backend,
      nodeTtlMs: this.options.nodeTtlMs,
      nodes,
      storeMembers,
      usage: usage
        .map((u) => ({ license: u.licenseId, feature: u.feature, seats: u.seats, inUse: u.inUse }))
        .sort((a, b) => a.license.localeCompare(b.license) || a.feature.localeCompare(b.feature)),
      stats: this.options.stats(),
      problems,
    };
  }
}
