import type { Lease, StoredCheckpoint } from '@leasehold/domain';
import type Database from 'better-sqlite3';
import type { RecordCipher } from '../crypto/record-cipher.js';
import { openLicense, openSigningKey } from '../crypto/sealed-records.js';
import type { Change, ReplicatedKind, ReplicatedRecord } from '../port/replication-feed.js';
import {
  type EntitlementRow,
  type LeaseRow,
  type LicenseRow,
  leaseFromRow,
  licenseFromRow,
  type SigningKeyRow,
  signingKeyFromRow,
  type TokenRow,
  tokenFromRow,
} from './rows.js';

interface ChangeRow {
  readonly seq: number;
  readonly rev: number;
  readonly kind: ReplicatedKind;
  readonly id: string;
  readonly op: 'put' | 'delete';
  readonly value: string | null;
}

/**
 * The change feed's table in SQLite (docs/replication.md). Every write that changes a replicated record
 * appends a row inside its own transaction (so a change is in the table exactly when it is in the data,
 * and a savepoint rolled back by the group commit takes its rows with it), at the store revision that
 * write bumped to. The value is the record as stored, its secret fields still sealed under the data key
 * (no plaintext at rest); `read` opens them.
 *
 * Retention is bounded: every `pruneEvery` appends (a tenth of the retention by default, so the table
 * stays under 1.1 times it), rows more than `retention` appends old are deleted
 * whole revisions at a time, and `feed_oldest` in `meta` moves to the last deleted revision. A reader
 * behind it answers REPLICATION_HISTORY_COMPACTED and reloads a snapshot.
 */
export class SqliteChangeLog {
  readonly #revision: Database.Statement;
  readonly #insert: Database.Statement;
  readonly #license: Database.Statement;
  readonly #entitlements: Database.Statement;
  readonly #lease: Database.Statement;
  readonly #token: Database.Statement;
  readonly #signingKey: Database.Statement;
  readonly #checkpoint: Database.Statement;
  readonly #revAtOffset: Database.Statement;
  readonly #prune: Database.Statement;
  readonly #setOldest: Database.Statement;
  #appends = 0;

  constructor(
    db: Database.Database,
    /** Changes kept for readers that fall behind (at least; whole revisions are pruned). */
    readonly retention: number,
    private readonly pruneEvery: number,
  ) {
    this.#revision = db.prepare("SELECT value FROM meta WHERE key = 'revision'");
    this.#insert = db.prepare('INSERT INTO changes (rev, kind, id, op, value) VALUES (?, ?, ?, ?, ?)');
    this.#license = db.prepare('SELECT * FROM licenses WHERE id = ?');
    this.#entitlements = db.prepare('SELECT * FROM entitlements WHERE license_id = ? ORDER BY feature');
    this.#lease = db.prepare('SELECT * FROM leases WHERE id = ?');
    this.#token = db.prepare('SELECT * FROM api_tokens WHERE hash = ?');
    this.#signingKey = db.prepare('SELECT * FROM signing_keys WHERE kid = ?');
    this.#checkpoint = db.prepare('SELECT * FROM audit_checkpoints WHERE seq = ?');
    // The row `retention` appends before the newest, found through the primary key: `seq` is the rowid
    // (each append takes the highest plus one) and rows leave only from the oldest end (the prune below),
    // so the seqs have no holes and this is the row `ORDER BY seq DESC OFFSET retention` would step to —
    // which walked 100,000 rows every 1,000 appends: 7.6% of a renewal's CPU in a profile of the embedded
    // benchmark's load (bench/README.md).
    this.#revAtOffset = db.prepare(
      'SELECT rev FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ? ORDER BY seq DESC LIMIT 1',
    );
    this.#prune = db.prepare('DELETE FROM changes WHERE rev <= ?');
    this.#setOldest = db.prepare("UPDATE meta SET value = max(value, ?) WHERE key = 'feed_oldest'");
  }

  // Inside the caller's write: each reads the record as the write left it and appends it. -----------

  license(id: string): void {
    const row = this.#license.get(id) as LicenseRow | undefined;
    if (!row) {
      this.#append('delete', 'license', id, null);
      return;
    }
    const entitlements = this.#entitlements.all(id) as EntitlementRow[];
    this.#append('put', 'license', id, JSON.stringify(licenseFromRow(row, entitlements)));
  }

  lease(id: string): void {
    const row = this.#lease.get(id) as LeaseRow | undefined;
    this.#append(row ? 'put' : 'delete', 'lease', id, row ? JSON.stringify(leaseFromRow(row)) : null);
  }

  /**
   * A lease the caller just wrote, given as `leaseFromRow` of its row would read it back (a grant's row
   * or a renewal's update): saves reading the row again on the two writes every client makes.
   */
  leaseWritten(lease: Lease): void {
    this.#append('put', 'lease', lease.id, JSON.stringify(lease));
  }

  token(hash: string): void {
    const row = this.#token.get(hash) as TokenRow | undefined;
    this.#append(row ? 'put' : 'delete', 'token', hash, row ? JSON.stringify(tokenFromRow(row)) : null);
  }

  signingKey(kid: string): void {
    const row = this.#signingKey.get(kid) as SigningKeyRow | undefined;
    const value = row ? JSON.stringify(signingKeyFromRow(row)) : null;
    this.#append(row ? 'put' : 'delete', 'signing-key', kid, value);
  }

  checkpoint(seq: number): void {
    const row = this.#checkpoint.get(seq) as StoredCheckpoint | undefined;
    const value = row
      ? JSON.stringify({ seq: row.seq, hash: row.hash, time: row.time, node: row.node, jws: row.jws })
      : null;
    this.#append(row ? 'put' : 'delete', 'checkpoint', String(seq), value);
  }

  #append(op: 'put' | 'delete', kind: ReplicatedKind, id: string, value: string | null): void {
    const rev = (this.#revision.get() as { value: number }).value;
    this.#insert.run(rev, kind, id, op, value);
    if (++this.#appends % this.pruneEvery === 0) this.#pruneOld(rev);
  }

  #pruneOld(current: number): void {
    const edge = this.#revAtOffset.get(this.retention) as { rev: number } | undefined;
    // Never the revision being written: its rows must reach readers whole.
    if (!edge || edge.rev >= current) return;
    this.#prune.run(edge.rev);
    this.#setOldest.run(edge.rev);
  }

  /** A change row as the feed serves it: secret fields opened. */
  static read(row: ChangeRow, cipher: RecordCipher): Change {
    if (row.op === 'delete' || row.value === null) {
      return { rev: row.rev, op: 'delete', kind: row.kind, id: row.id };
    }
    return { rev: row.rev, op: 'put', record: openRecord(row.kind, row.id, row.value, cipher) };
  }
}

export type { ChangeRow };

function openRecord(kind: ReplicatedKind, id: string, json: string, cipher: RecordCipher): ReplicatedRecord {
  const parsed = JSON.parse(json, (_key, value: unknown) => (value === null ? undefined : value));
  switch (kind) {
    case 'license':
      return { kind, id, value: openLicense(parsed, cipher) };
    case 'signing-key':
      return { kind, id, value: openSigningKey(parsed, cipher) };
    case 'token':
    case 'lease':
    case 'checkpoint':
      return { kind, id, value: parsed } as ReplicatedRecord;
  }
}

/** Schema migration 4: the change feed's table; history starts at the revision the store has now. */
export const CHANGE_LOG_MIGRATION = `
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    rev INTEGER NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    value TEXT
  ) STRICT;
  CREATE INDEX changes_rev ON changes(rev);
  INSERT INTO meta (key, value) SELECT 'feed_oldest', value FROM meta WHERE key = 'revision';
  INSERT INTO meta (key, value) VALUES ('replica_position', -1), ('replica_head', -1), ('replica_head_at', 0),
    ('pools_stale', 0);

  -- The replica scope (a replica's or an edge's upstream token): SQLite cannot alter a CHECK.
  CREATE TABLE api_tokens_v4 (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'operator', 'client', 'replica')),
    license_id TEXT,
    name TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  INSERT INTO api_tokens_v4 SELECT id, hash, scope, license_id, name, created_at, revoked_at FROM api_tokens;
  DROP TABLE api_tokens;
  ALTER TABLE api_tokens_v4 RENAME TO api_tokens;
`;
