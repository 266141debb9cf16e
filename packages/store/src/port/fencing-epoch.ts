/**
 * The deployment's fencing epoch (docs/replication.md, "Promotion"). A deployment that never was promoted
 * over is at epoch 1 (no record). Promoting a replica raises the epoch above every epoch it saw from its
 * primary; the promoted node tells the old primary, which records that it was superseded (fenced) and
 * from then on refuses every lease write. Kept in the store, so a restart keeps both.
 */
export interface EpochState {
  /** The epoch this store's primary writes under (a replica: the highest its primary's feed carried). */
  readonly epoch: number;
  /** Set once this store was promoted from a replica: when, and until when new grants are held. */
  readonly promotion?: {
    readonly at: number;
    /** Learning mode ends here: `at` plus the longest lease TTL and grace of the installed licenses. */
    readonly learningUntil: number;
    /** The primary this store followed until then: the promoted node keeps telling it (fencing). */
    readonly supersedes?: string | undefined;
  };
  /** Set once a newer primary told this store it was superseded: every lease write is refused. */
  readonly fenced?: {
    readonly epoch: number;
    /** The new primary's URL, named in PRIMARY_FENCED. */
    readonly primary: string;
    readonly at: number;
  };
}

export const INITIAL_EPOCH_STATE: EpochState = { epoch: 1 };

export interface PromoteInput {
  readonly now: number;
  /** How long new grants are held after the promotion (the longest lease TTL plus grace). */
  readonly learningMs: number;
  /** The primary the promoted store followed (kept in `promotion.supersedes`). */
  readonly supersedes?: string | undefined;
}

export interface FenceInput {
  /** The new primary's epoch: must be above this store's, else EPOCH_STALE. */
  readonly epoch: number;
  readonly primary: string;
  readonly now: number;
}

/** The backend side of fencing (both backends; contract: test/contract/epoch-contract.ts). */
export interface FencingEpochs {
  epochState(): Promise<EpochState>;
  /**
   * Makes this store a primary at `epoch + 1`, in one transaction (SQLite: with the seat pools rebuilt
   * from the replicated leases). Idempotent only in the sense that each call raises the epoch again.
   */
  promoteEpoch(input: PromoteInput): Promise<EpochState>;
  /** Records that a primary at a newer epoch superseded this one; a second, lower or equal fence is kept out. */
  fenceEpoch(input: FenceInput): Promise<EpochState>;
}
