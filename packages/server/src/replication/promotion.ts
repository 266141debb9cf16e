import { type Clock, LeaseholdError } from '@leasehold/domain';
import type { EpochState, LeaseStore } from '@leasehold/store';
import type { ClusterKeyring } from '../keys/cluster-keyring.js';
import type { EpochView } from './epoch-view.js';
import { FenceNotifier, type FenceNotifierStatus } from './fence-notifier.js';
import type { HttpUpstreamFeed } from './upstream-feed.js';

export interface PromotionOutcome {
  readonly epoch: number;
  readonly promotedAt: number;
  /** New grants are held (PROMOTION_LEARNING) until then; renewals are served at once. */
  readonly learningUntil: number;
  /** The old primary, which the node now keeps telling it was superseded. */
  readonly supersedes: string;
}

/** What `POST /v1/replication/promote` and `/v1/cluster` see of a replica's promotion. */
export interface Promotion {
  promote(): Promise<PromotionOutcome>;
  /** The fencing of the old primary, once promoted. */
  fencing(): FenceNotifierStatus | undefined;
}

export interface ReplicaPromotionOptions {
  /** The old primary's feed client (its URL and TLS): fenced through it. */
  readonly oldPrimary: Pick<HttpUpstreamFeed, 'url' | 'fence'>;
  /** This node's URL as writers should reach it (the fenced primary names it). */
  readonly self: () => string;
  /** The node's own store (not the read-only view). */
  readonly store: Pick<LeaseStore, 'promoteEpoch' | 'listLicenses'>;
  readonly stopFollowing: () => Promise<void>;
  /** Lets writes through and starts what a primary runs (sweeper, audit keeper). */
  readonly becomePrimary: () => void;
  readonly keyring: ClusterKeyring;
  readonly epochs: EpochView;
  readonly clock: Clock;
  /**
   * The clock margin (`maxClockSkewMs`): the old primary's deadlines are on its clock, which may run up
   * to this far ahead of ours, so learning lasts that much longer (docs/ha.md "Expiry").
   */
  readonly maxClockSkewMs: number;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * Promotion of a replica node (docs/replication.md, "Promotion"): stop following, persist "primary at
 * the epoch above the highest the feed carried, learning until now + the longest lease TTL and grace
 * + the clock margin" in one transaction (with the seat pools rebuilt), let writes through, and keep telling the old primary
 * until it hears. One promotion per process: a second call answers NOT_A_REPLICA.
 */
export class ReplicaPromotion implements Promotion {
  #promoting: Promise<PromotionOutcome> | undefined;
  #notifier: FenceNotifier | undefined;

  constructor(private readonly o: ReplicaPromotionOptions) {}

  promote(): Promise<PromotionOutcome> {
    if (this.#promoting) {
      return this.#promoting.then((done) => {
        throw new LeaseholdError('NOT_A_REPLICA', `this node was promoted already, at epoch ${done.epoch}`, {
          epoch: done.epoch,
        });
      });
    }
    const promoting = this.#promote();
    this.#promoting = promoting;
    // A failed promotion (the store unreachable) may be tried again.
    promoting.catch(() => {
      if (this.#promoting === promoting) this.#promoting = undefined;
    });
    return promoting;
  }

  fencing(): FenceNotifierStatus | undefined {
    return this.#notifier?.status();
  }

  async stop(): Promise<void> {
    await this.#notifier?.stop();
  }

  async #promote(): Promise<PromotionOutcome> {
    const { o } = this;
    if (!o.keyring.loaded) {
      // It could sign nothing: not one lease token, not the fence statement.
      throw new LeaseholdError(
        'STORE_UNAVAILABLE',
        "this replica holds none of the primary's signing keys yet; it cannot be promoted",
      );
    }
    await o.stopFollowing();
    const now = o.clock.now();
    const state = await o.store.promoteEpoch({
      now,
      learningMs: (await longestLeaseWindow(o.store)) + o.maxClockSkewMs,
      supersedes: o.oldPrimary.url,
    });
    o.epochs.set(state);
    o.becomePrimary();
    const outcome = promotionOutcome(state, o.oldPrimary.url);
    o.log.info(outcome, 'promoted: serving as the primary under a new fencing epoch');
    this.#notifier = startFencing(o, state.epoch);
    return outcome;
  }
}

/** Starts telling `oldPrimary` that this node is the primary at `epoch` (also after a restart). */
export function startFencing(
  o: Pick<ReplicaPromotionOptions, 'oldPrimary' | 'self' | 'keyring' | 'clock' | 'log'>,
  epoch: number,
): FenceNotifier {
  const notifier = new FenceNotifier({
    oldPrimary: o.oldPrimary,
    self: o.self(),
    epoch,
    signer: () => o.keyring.signer,
    clock: o.clock,
    log: o.log,
  });
  notifier.start();
  return notifier;
}

/**
 * At a node's start: shows the stored epoch, and if this node is a promoted replica restarted as a
 * primary, keeps fencing the primary it replaced (idempotent). A failed read only delays the epoch's
 * display (EpochView reads again); it never fails the start.
 */
export async function resumeFencing(
  store: Pick<LeaseStore, 'epochState'>,
  o: Pick<ReplicaPromotionOptions, 'self' | 'keyring' | 'epochs' | 'clock' | 'log'> & {
    readonly oldPrimaryAt: (url: string) => ReplicaPromotionOptions['oldPrimary'];
  },
): Promise<FenceNotifier | undefined> {
  const state = await store.epochState().catch(() => undefined);
  if (state === undefined) return undefined;
  o.epochs.set(state);
  const supersedes = state.promotion?.supersedes;
  return supersedes === undefined
    ? undefined
    : startFencing({ ...o, oldPrimary: o.oldPrimaryAt(supersedes) }, state.epoch);
}

/**
 * Learning mode lasts the longest time a lease the old primary granted or renewed just before the cut
 * can still hold its seat: TTL plus grace, the longest of any installed license.
 */
async function longestLeaseWindow(store: Pick<LeaseStore, 'listLicenses'>): Promise<number> {
  const licenses = await store.listLicenses();
  return licenses.reduce((longest, l) => Math.max(longest, l.lease.ttlMs + l.lease.graceMs), 0);
}

function promotionOutcome(state: EpochState, supersedes: string): PromotionOutcome {
  return {
    epoch: state.epoch,
    promotedAt: state.promotion?.at ?? 0,
    learningUntil: state.promotion?.learningUntil ?? 0,
    supersedes,
  };
}
