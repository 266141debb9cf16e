import type { InstalledLicense, Lease, StoredCheckpoint } from '@leasehold/domain';
import type { ApiTokenRecord, StoredSigningKey } from './lease-store.js';

/**
 * The change feed (issue 12, docs/replication.md): what a replica or an edge needs to hold the same
 * state as the primary, as an ordered, resumable stream keyed by the store's revision.
 *
 * A record is named by its kind and its id. Tokens are named by their hash (the one lookup key both
 * backends have: etcd keeps one record per hash, SQLite one row per hash). Values are plaintext: the feed
 * is served only over an authenticated (TLS in production) connection, and the receiver seals them under
 * its own data key.
 */
export type ReplicatedRecord =
  | { readonly kind: 'license'; readonly id: string; readonly value: InstalledLicense }
  | { readonly kind: 'token'; readonly id: string; readonly value: ApiTokenRecord }
  | { readonly kind: 'signing-key'; readonly id: string; readonly value: StoredSigningKey }
  | { readonly kind: 'lease'; readonly id: string; readonly value: Lease }
  | { readonly kind: 'checkpoint'; readonly id: string; readonly value: StoredCheckpoint };

export type ReplicatedKind = ReplicatedRecord['kind'];

export const REPLICATED_KINDS: readonly ReplicatedKind[] = [
  'license',
  'token',
  'signing-key',
  'lease',
  'checkpoint',
];

/** One change: a record as it was written at `rev`, or its deletion at `rev`. */
export type Change =
  | { readonly rev: number; readonly op: 'put'; readonly record: ReplicatedRecord }
  | { readonly rev: number; readonly op: 'delete'; readonly kind: ReplicatedKind; readonly id: string };

export interface ChangePage {
  /** In revision order; every change of one revision is in the same page. */
  readonly changes: readonly Change[];
  /**
   * Every change with a revision up to this one is in this page or an earlier one: the position to ask
   * `after` next. Moves forward even when `changes` is empty (an idle bookmark).
   */
  readonly through: number;
  /** The store's newest revision when the page was read (`head - through` is the reader's lag). */
  readonly head: number;
  /**
   * The lowest `after` the store still answers: below it the history is compacted (etcd) or pruned
   * (SQLite) and the reader must reload a snapshot. On etcd this is the compaction the node last saw.
   */
  readonly oldest: number;
  /**
   * The serving primary's fencing epoch (docs/replication.md, "Promotion"), added by the HTTP route; a
   * replica keeps the highest it saw, and a promotion goes above it.
   */
  readonly epoch?: number | undefined;
}

export interface ChangeQuery {
  /** Changes with a revision greater than this one. */
  readonly after: number;
  /** At most this many changes (a page may hold more to keep one revision whole). */
  readonly limit: number;
  /** With nothing to send, wait this long for a change before answering an idle bookmark. */
  readonly waitMs: number;
  /** Ends the wait early (the HTTP request closed, the node stops). */
  readonly signal?: AbortSignal | undefined;
}

/** Every replicated record as of one revision: the base a replica replaces its state with. */
export interface ReplicationSnapshot {
  readonly revision: number;
  /** As `ChangePage.epoch`. */
  readonly epoch?: number | undefined;
  readonly records: readonly ReplicatedRecord[];
}

/** The backend side of the feed (docs/replication.md). */
export interface ReplicationFeed {
  /**
   * Changes after `query.after`, in order. Throws REPLICATION_HISTORY_COMPACTED when `after` is below
   * the retained history: reload `replicationSnapshot()` and resume after its revision.
   */
  changesSince(query: ChangeQuery): Promise<ChangePage>;
  /** Every replicated record, read at one revision. */
  replicationSnapshot(): Promise<ReplicationSnapshot>;
}
