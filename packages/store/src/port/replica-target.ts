import type { Change, ReplicationSnapshot } from './replication-feed.js';

/** Where a replica (or an edge) stands in its primary's feed: committed with the state it describes. */
export interface ReplicaPosition {
  /** The primary's revision every applied change is at or below; -1 before anything was applied. */
  readonly position: number;
  /** The primary's head as the last applied page reported it (for the lag in revisions). */
  readonly head: number;
  /** When that page was applied (ms, wall clock of the replica). */
  readonly appliedAt: number;
}

/**
 * The receiving side of the change feed (docs/replication.md), implemented by the embedded store. Each
 * call is one transaction that also commits the new position, so a crash between pages neither loses
 * nor repeats a change: a page at or below the committed position is skipped, change by change.
 */
export interface ReplicaTarget {
  replicaPosition(): Promise<ReplicaPosition>;
  /** Applies the changes above the committed position, in order, and moves it to `through`. */
  applyChanges(
    changes: readonly Change[],
    page: { readonly through: number; readonly head: number; readonly epoch?: number | undefined },
    now: number,
  ): Promise<ApplyResult>;
  /** Replaces every replicated record by the snapshot's (deletes included) and moves the position to it. */
  replaceState(snapshot: ReplicationSnapshot, now: number): Promise<ApplyResult>;
}

export interface ApplyResult {
  /** Changes (or snapshot records) written. */
  readonly applied: number;
  /** Changes skipped because the committed position already covered them. */
  readonly skipped: number;
  readonly position: number;
}
