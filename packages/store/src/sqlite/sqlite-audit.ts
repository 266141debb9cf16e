import {
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  canonicalJson,
  GENESIS_HEAD,
  type StoredCheckpoint,
  sealEvents,
} from '@leasehold/domain';
import type Database from 'better-sqlite3';
import type { AuditQuery, AuditSealResult, AuditStatus } from '../port/lease-store.js';

interface LogRow {
  readonly seq: number;
  readonly prev_hash: string;
  readonly hash: string;
  readonly event: string;
}

/**
 * The audit trail in SQLite (schema migration 3). `record` runs inside the caller's write transaction,
 * so an event exists exactly when its change does; sealing moves pending rows, in rowid (= commit) order,
 * into `audit_log` in one transaction. The anchor row is where the live chain starts after archival.
 */
export class SqliteAudit {
  readonly #insertPending: Database.Statement;
  readonly #pendingBatch: Database.Statement;
  readonly #deletePendingThrough: Database.Statement;
  readonly #countPending: Database.Statement;
  readonly #lastEntry: Database.Statement;
  readonly #anchor: Database.Statement;
  readonly #setAnchor: Database.Statement;
  readonly #insertEntry: Database.Statement;
  readonly #after: Database.Statement;
  readonly #before: Database.Statement;
  readonly #entryAt: Database.Statement;
  readonly #deleteThrough: Database.Statement;
  readonly #deleteCheckpointsBefore: Database.Statement;
  readonly #insertCheckpoint: Database.Statement;
  readonly #checkpoints: Database.Statement;

  constructor(db: Database.Database) {
    this.#insertPending = db.prepare('INSERT INTO audit_pending (event) VALUES (?)');
    this.#pendingBatch = db.prepare('SELECT id, event FROM audit_pending ORDER BY id LIMIT ?');
    this.#deletePendingThrough = db.prepare('DELETE FROM audit_pending WHERE id <= ?');
    this.#countPending = db.prepare('SELECT count(*) AS n FROM audit_pending');
    this.#lastEntry = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.#anchor = db.prepare('SELECT seq, hash FROM audit_anchor WHERE id = 1');
    this.#setAnchor = db.prepare(
      'INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
    );
    this.#insertEntry = db.prepare('INSERT INTO audit_log (seq, prev_hash, hash, event) VALUES (?, ?, ?, ?)');
    this.#after = db.prepare('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#before = db.prepare('SELECT * FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?');
    this.#entryAt = db.prepare('SELECT * FROM audit_log WHERE seq = ?');
    this.#deleteThrough = db.prepare('DELETE FROM audit_log WHERE seq <= ?');
    this.#deleteCheckpointsBefore = db.prepare('DELETE FROM audit_checkpoints WHERE seq < ?');
    this.#insertCheckpoint = db.prepare(
      'INSERT OR IGNORE INTO audit_checkpoints (seq, hash, time, node, jws) VALUES (?, ?, ?, ?, ?)',
    );
    this.#checkpoints = db.prepare('SELECT * FROM audit_checkpoints ORDER BY seq');
  }

  /** Inside a write transaction: the pending record of one change. */
  record(event: AuditEvent): void {
    this.#insertPending.run(canonicalJson(event));
  }

  #head(): AuditHead {
    return (this.#lastEntry.get() as AuditHead | undefined) ?? this.#anchorHead();
  }

  #anchorHead(): AuditHead {
    return (this.#anchor.get() as AuditHead | undefined) ?? GENESIS_HEAD;
  }

  /** Inside a write transaction. */
  seal(limit: number): AuditSealResult {
    const head = this.#head();
    const rows = this.#pendingBatch.all(limit) as { id: number; event: string }[];
    if (rows.length === 0) return { sealed: 0, head };
    const entries = sealEvents(
      head,
      rows.map((r) => JSON.parse(r.event) as AuditEvent),
    );
    rows.forEach((row, i) => {
      const entry = entries[i] as AuditEntry;
      this.#insertEntry.run(entry.seq, entry.prevHash, entry.hash, row.event);
    });
    this.#deletePendingThrough.run((rows[rows.length - 1] as { id: number }).id);
    const last = entries[entries.length - 1] as AuditEntry;
    return { sealed: rows.length, head: { seq: last.seq, hash: last.hash } };
  }

  status(): AuditStatus {
    return {
      head: this.#head(),
      anchor: this.#anchorHead(),
      unsealed: (this.#countPending.get() as { n: number }).n,
    };
  }

  entries(query: AuditQuery): AuditEntry[] {
    const rows =
      query.beforeSeq !== undefined
        ? (this.#before.all(query.beforeSeq, query.limit) as LogRow[])
        : (this.#after.all(query.afterSeq ?? 0, query.limit) as LogRow[]);
    return rows.map(entryFromRow);
  }

  pending(limit: number): AuditEvent[] {
    return (this.#pendingBatch.all(limit) as { event: string }[]).map(
      (r) => JSON.parse(r.event) as AuditEvent,
    );
  }

  /** Inside a write transaction. */
  saveCheckpoint(checkpoint: StoredCheckpoint): void {
    this.#insertCheckpoint.run(
      checkpoint.seq,
      checkpoint.hash,
      checkpoint.time,
      checkpoint.node,
      checkpoint.jws,
    );
  }

  checkpoints(): StoredCheckpoint[] {
    return this.#checkpoints.all() as StoredCheckpoint[];
  }

  /**
   * Inside a write transaction: deletes entries through `throughSeq` and checkpoints before it (archived
   * first) and moves the anchor there. Pruning below the anchor does nothing; past the head is refused.
   */
  prune(throughSeq: number): AuditHead {
    const anchor = this.#anchorHead();
    if (throughSeq <= anchor.seq) return anchor;
    const row = this.#entryAt.get(throughSeq) as LogRow | undefined;
    if (!row) throw new RangeError(`no sealed audit entry ${throughSeq} to archive through`);
    this.#deleteThrough.run(throughSeq);
    // Their checkpoints went into the segment with them; the one at the new anchor stays, as the
    // anchor's signature (docs/audit.md).
    this.#deleteCheckpointsBefore.run(throughSeq);
    this.#setAnchor.run(row.seq, row.hash);
    return { seq: row.seq, hash: row.hash };
  }
}

function entryFromRow(row: LogRow): AuditEntry {
  return { ...(JSON.parse(row.event) as AuditEvent), seq: row.seq, prevHash: row.prev_hash, hash: row.hash };
}

/** Schema migration 3: the audit trail. */
export const AUDIT_MIGRATION = `
  CREATE TABLE audit_pending (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL) STRICT;
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    event TEXT NOT NULL
  ) STRICT;
  CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL) STRICT;
  CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    time INTEGER NOT NULL,
    node TEXT NOT NULL,
    jws TEXT NOT NULL
  ) STRICT;
`;
