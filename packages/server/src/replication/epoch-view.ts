import type { Clock } from '@leasehold/domain';
import { type EpochState, INITIAL_EPOCH_STATE, type LeaseStore } from '@leasehold/store';

/**
 * This node's copy of the deployment's fencing epoch (docs/replication.md, "Promotion"), for what it
 * *says* — the epoch in lease answers and tokens, `/v1/cluster`, the feed's pages. What a write is
 * *allowed* is decided by the store itself, inside the write (SQLite) or against its own cached copy
 * (etcd). Read again once older than `maxAgeMs`; a failed read keeps the last value.
 */
export class EpochView {
  #state: EpochState = INITIAL_EPOCH_STATE;
  #readAt: number | undefined;

  constructor(
    private readonly store: Pick<LeaseStore, 'epochState'>,
    private readonly clock: Clock,
    private readonly maxAgeMs = 1000,
  ) {}

  /** The read in flight, which every caller that finds the copy too old waits for. */
  #reading: Promise<EpochState> | undefined;

  async current(): Promise<EpochState> {
    const now = this.clock.monotonic();
    if (this.#readAt !== undefined && now - this.#readAt < this.maxAgeMs) return this.#state;
    // One read for all: a many-lease renewal signs its leases in parallel, and each asked for its own
    // read once the copy aged (bench/README.md, scale on etcd: ~1,000 epoch reads a minute per node).
    this.#reading ??= this.store.epochState().then(
      (state) => {
        this.#reading = undefined;
        this.set(state);
        return state;
      },
      () => {
        this.#reading = undefined;
        // The store is unreachable: the write this serves fails on its own; keep saying the last epoch.
        return this.#state;
      },
    );
    return this.#reading;
  }

  /** After a promotion or a fence on this node: known at once, no read. */
  set(state: EpochState): void {
    this.#state = state;
    this.#readAt = this.clock.monotonic();
  }
}
