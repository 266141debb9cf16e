import type Database from 'better-sqlite3';
import { epochGuardError, fencedEpoch, promotedEpoch } from '../port/epoch-rules.js';
import {
  type EpochState,
  type FenceInput,
  INITIAL_EPOCH_STATE,
  type PromoteInput,
} from '../port/fencing-epoch.js';

/** Schema migration 8: one row, absent until the epoch first moves (docs/replication.md, "Promotion"). */
export const EPOCH_MIGRATION = `
  CREATE TABLE fencing_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL
  ) STRICT;
`;

/**
 * The fencing epoch in the embedded store. Every lease write calls `guard` inside its own transaction,
 * so a fence recorded by one write transaction is seen by every later one: no window at all on SQLite.
 * The row is tiny and its statement prepared, so the check costs one B-tree lookup per write.
 */
export class SqliteEpochs {
  readonly #get: Database.Statement;
  readonly #put: Database.Statement;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT state FROM fencing_epoch WHERE id = 1');
    this.#put = db.prepare(
      'INSERT INTO fencing_epoch (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state',
    );
  }

  /** The state, read inside the caller's transaction (or as a plain read). */
  state(): EpochState {
    const row = this.#get.get() as { state: string } | undefined;
    return row ? (JSON.parse(row.state) as EpochState) : INITIAL_EPOCH_STATE;
  }

  /** Throws PRIMARY_FENCED, or PROMOTION_LEARNING for a new grant, inside a lease write's transaction. */
  guard(now: number, grant: boolean): void {
    const error = epochGuardError(this.state(), now, grant);
    if (error) throw error;
  }

  /** A replica records the epoch its primary's feed carries (never lowers it). */
  follow(epoch: number): void {
    const state = this.state();
    if (epoch > state.epoch) this.#write({ ...state, epoch });
  }

  promote(input: PromoteInput): EpochState {
    const next = promotedEpoch(this.state(), input);
    this.#write(next);
    return next;
  }

  fence(input: FenceInput): EpochState {
    const state = this.state();
    const next = fencedEpoch(state, input);
    if (next !== state) this.#write(next);
    return next;
  }

  #write(state: EpochState): void {
    this.#put.run(JSON.stringify(state));
  }
}
