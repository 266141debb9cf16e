import { LeaseholdError } from '@leasehold/domain';
import { type LeaseStore, type Membership, operationDeadline, type StoreMember } from '@leasehold/store';
import { NodeRoster, type NodeStatus } from './node-roster.js';

/** The shape of `app.metrics.summary()` (packages/server/src/observability). */
export interface StatsSummary {
  readonly requestsTotal: number;
  readonly errorsTotal: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

/** What the dashboard's live stream pushes: one self-contained picture, so a missed one costs nothing. */
export interface DashboardSnapshot {
  readonly time: string;
  readonly node: string;
  readonly store: string;
  readonly nodeTtlMs: number;
  readonly nodes: readonly NodeStatus[];
  readonly storeMembers: readonly StoreMember[];
  readonly usage: readonly {
    readonly license: string;
    readonly feature: string;
    readonly seats: number;
    readonly inUse: number;
  }[];
  /** This node's request counters and latency; null while the node has no metrics. */
  readonly stats: StatsSummary | null;
  /** Parts that could not be read this round (e.g. `usage: STORE_UNAVAILABLE`); shown, not hidden. */
  readonly problems: readonly string[];
}

export interface LiveSnapshotsOptions {
  readonly store: LeaseStore;
  readonly membership: Membership | undefined;
  readonly nodeId: string;
  readonly nodeTtlMs: number;
  readonly now: () => number;
  readonly stats: () => StatsSummary | null;
  readonly intervalMs: number;
  /**
   * Change-driven snapshots start at least this far apart: a node taking a thousand checkouts a second
   * must not rebuild (and re-read the store for) a thousand snapshots a second.
   */
  readonly minGapMs: number;
  /** Monotonic milliseconds, for the gap. */
  readonly monotonic: () => number;
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
  #timer: NodeJS.Timeout | undefined;
  #building: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #lastStart = Number.NEGATIVE_INFINITY;
  #pending: NodeJS.Timeout | undefined;

  constructor(private readonly options: LiveSnapshotsOptions) {
    this.#roster = new NodeRoster(options.nodeId, options.nodeTtlMs, options.keepDepartedMs);
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
    this.#timer ??= operationDeadline.exit(() =>
      setInterval(() => this.refreshSoon(), this.options.intervalMs).unref(),
    );
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
    if (this.#subscribers.size === 0 || this.#closed || this.#pending) return;
    const wait = Math.max(0, this.#lastStart + this.options.minGapMs - this.options.monotonic());
    this.#pending = operationDeadline.exit(() =>
      setTimeout(() => {
        this.#pending = undefined;
        this.refreshSoon();
      }, wait),
    );
  }

  /** Builds and pushes a snapshot now, or right after the one being built (coalesced). */
  refreshSoon(): void {
    if (this.#subscribers.size === 0 || this.#closed) return;
    if (this.#building) {
      this.#again = true;
      return;
    }
    this.#lastStart = this.options.monotonic();
    this.#building = operationDeadline
      .run(performance.now() + this.options.intervalMs, () => this.#build())
      .then(
        (snapshot) => {
          for (const s of this.#subscribers) s(snapshot);
        },
        () => undefined,
      )
      .finally(() => {
        this.#building = undefined;
        if (this.#again) {
          this.#again = false;
          this.refreshSoon();
        }
      });
  }

  close(): void {
    this.#closed = true;
    this.#subscribers.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#pending) clearTimeout(this.#pending);
    this.#timer = undefined;
    this.#pending = undefined;
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
    const now = this.options.now();
    const [live, storeMembers, usage] = await Promise.all([
      part('nodes', async () => (membership ? membership.nodes() : []), undefined),
      part('store members', async () => (membership ? membership.storeMembers() : []), []),
      part('usage', () => store.seatUsage(now), []),
    ]);
    // Without a fresh node list, age the remembered one: a store outage must not freeze the heartbeats.
    const nodes = this.#roster.update(live, this.options.now());
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
