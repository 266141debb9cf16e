import { epochGuardError, fencedEpoch, promotedEpoch } from '../port/epoch-rules.js';
import {
  type EpochState,
  type FenceInput,
  INITIAL_EPOCH_STATE,
  type PromoteInput,
} from '../port/fencing-epoch.js';
import type { EtcdContext } from './etcd-context.js';
import type { Compare, KeyValue, ReadOp } from './etcd-gateway.js';
import { decodeJson } from './records.js';

/** The epoch as stored: its state and the key's mod revision (0 while the key is absent). */
interface StoredEpoch {
  readonly state: EpochState;
  readonly modRevision: number;
}

/**
 * The fencing epoch in etcd, at `{p}epoch` (docs/replication.md, "Promotion"). Promotions and fences are
 * compare-guarded transactions on that key.
 *
 * Every lease write decides by the epoch and carries a compare that the key's mod revision is still the
 * one it decided by, in its own transaction: a fence or promotion committed first (through any node)
 * fails that compare, and the write's next attempt reads the epoch again and answers what the rules say.
 * So no lease write commits after a fence, as on SQLite. Writes that read before they write read the key
 * in that same read (`read`, then `check`); writes with no read (a blind checkout, a cached renewal) take
 * the compare from the copy this node saw last (`cached`), a hint like the lease record cache: a stale
 * copy only fails its compare and sends the write down its read path.
 */
export class EtcdEpochs {
  #known: StoredEpoch | undefined;

  constructor(private readonly ctx: EtcdContext) {}

  async state(): Promise<EpochState> {
    const { state } = await this.#read();
    return state;
  }

  /** What a lease write adds to its own read: the epoch key, read in the same snapshot. */
  read(): ReadOp {
    return { key: this.ctx.keys.epoch() };
  }

  /**
   * Decides a lease write by the epoch its read found (`kv`, undefined when the key is absent): throws
   * PRIMARY_FENCED, or PROMOTION_LEARNING for a new grant (`grant`); else answers the compare the write's
   * transaction must carry.
   */
  check(kv: KeyValue | undefined, now: number, grant: boolean): Compare {
    const stored = this.#remember(kv);
    const error = epochGuardError(stored.state, now, grant);
    if (error) throw error;
    return this.#compare(stored.modRevision);
  }

  /**
   * The compare of a write with no read before it, from the copy this node saw last; undefined when it has
   * none, or when that copy refuses the write: a cached refusal is not trusted (the copy may be stale), so
   * the write takes its read path, which reads the epoch and decides.
   */
  cached(now: number, grant: boolean): Compare | undefined {
    const known = this.#known;
    if (!known || epochGuardError(known.state, now, grant)) return undefined;
    return this.#compare(known.modRevision);
  }

  /** True while `compare` (from `check` or `cached`) still holds for the epoch key as read (`kv`). */
  holds(compare: Compare, kv: KeyValue | undefined): boolean {
    return 'equals' in compare && compare.equals === (kv?.modRevision ?? 0);
  }

  promote(input: PromoteInput): Promise<EpochState> {
    return this.#update((state) => promotedEpoch(state, input));
  }

  fence(input: FenceInput): Promise<EpochState> {
    return this.#update((state) => fencedEpoch(state, input));
  }

  #compare(modRevision: number): Compare {
    // An absent key compares as mod revision 0 in etcd: "still absent" is the same compare.
    return { key: this.ctx.keys.epoch(), target: 'Mod', equals: modRevision };
  }

  #update(next: (state: EpochState) => EpochState): Promise<EpochState> {
    const { ctx } = this;
    const key = ctx.keys.epoch();
    return ctx.optimistic.run(async () => {
      const { state, modRevision } = await this.#read();
      const updated = next(state);
      if (updated === state) return state;
      const revision = await ctx.commit(
        [{ key, target: 'Mod', equals: modRevision }],
        [{ put: key, value: JSON.stringify(updated) }],
      );
      this.#known = { state: updated, modRevision: revision };
      return updated;
    });
  }

  async #read(): Promise<StoredEpoch> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() => ctx.gateway.read([this.read()]));
    return this.#remember(results[0]?.[0]);
  }

  /** The epoch a read found, kept as this node's copy (a hint for writes with no read; see `cached`). */
  #remember(kv: KeyValue | undefined): StoredEpoch {
    const stored = {
      state: kv ? decodeJson<EpochState>(kv) : INITIAL_EPOCH_STATE,
      modRevision: kv?.modRevision ?? 0,
    };
    this.#known = stored;
    return stored;
  }
}
