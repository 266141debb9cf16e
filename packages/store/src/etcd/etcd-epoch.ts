import { epochGuardError, fencedEpoch, promotedEpoch } from '../port/epoch-rules.js';
import {
  type EpochState,
  type FenceInput,
  INITIAL_EPOCH_STATE,
  type PromoteInput,
} from '../port/fencing-epoch.js';
import type { EtcdContext } from './etcd-context.js';
import { decodeJson } from './records.js';

/** How long a node trusts its copy of the epoch before a lease write reads it again. */
export const EPOCH_CACHE_MS = 1000;

/**
 * The fencing epoch in etcd, at `{p}epoch` (docs/replication.md, "Promotion"). Promotions and fences are
 * compare-guarded transactions on that key. Lease writes check a copy at most `EPOCH_CACHE_MS` old
 * rather than comparing the key inside their own transaction: the node that records a fence sees it at
 * once, and every other node of the cluster within that second — the window docs/replication.md states.
 */
export class EtcdEpochs {
  #cached: { state: EpochState; at: number } | undefined;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  async state(): Promise<EpochState> {
    const { state } = await this.#read();
    return state;
  }

  /** Throws PRIMARY_FENCED, or PROMOTION_LEARNING for a new grant (a copy at most a second old). */
  async guard(now: number, grant: boolean): Promise<void> {
    const cached = this.#cached;
    const state = cached && this.monotonic() - cached.at < EPOCH_CACHE_MS ? cached.state : await this.state();
    const error = epochGuardError(state, now, grant);
    if (error) throw error;
  }

  promote(input: PromoteInput): Promise<EpochState> {
    return this.#update((state) => promotedEpoch(state, input));
  }

  fence(input: FenceInput): Promise<EpochState> {
    return this.#update((state) => fencedEpoch(state, input));
  }

  #update(next: (state: EpochState) => EpochState): Promise<EpochState> {
    const { ctx } = this;
    const key = ctx.keys.epoch();
    return ctx.optimistic.run(async () => {
      const { state, modRevision } = await this.#read();
      const updated = next(state);
      if (updated === state) return state;
      await ctx.commit(
        [{ key, target: 'Mod', equals: modRevision }],
        [{ put: key, value: JSON.stringify(updated) }],
      );
      this.#cached = { state: updated, at: this.monotonic() };
      return updated;
    });
  }

  async #read(): Promise<{ state: EpochState; modRevision: number }> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() => ctx.gateway.read([{ key: ctx.keys.epoch() }]));
    const kv = results[0]?.[0];
    const state = kv ? decodeJson<EpochState>(kv) : INITIAL_EPOCH_STATE;
    this.#cached = { state, at: this.monotonic() };
    return { state, modRevision: kv?.modRevision ?? 0 };
  }
}
