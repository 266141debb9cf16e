import { LeaseholdError, type StoredCheckpoint } from '@leasehold/domain';
import type Database from 'better-sqlite3';
import { openLicense, openSigningKey } from '../crypto/sealed-records.js';
import type {
  ChangePage,
  ChangeQuery,
  ReplicatedRecord,
  ReplicationSnapshot,
} from '../port/replication-feed.js';
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
import { type ChangeRow, SqliteChangeLog } from './sqlite-change-log.js';
import type { SqliteContext } from './sqlite-context.js';

/**
 * The change feed of the embedded store: pages of the `changes` table (sqlite-change-log.ts) read in one
 * read transaction with the head they are complete up to, and snapshots read the same way. A reader with
 * nothing new waits for this process's next commit (or a short poll, for writers in other processes).
 */
export class SqliteFeed {
  readonly #head: Database.Statement;
  readonly #oldest: Database.Statement;
  readonly #cutRev: Database.Statement;
  readonly #through: Database.Statement;
  readonly #leases: Database.Statement;
  readonly #checkpoints: Database.Statement;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx.conn;
    this.#head = db.prepare("SELECT value FROM meta WHERE key = 'revision'");
    this.#oldest = db.prepare("SELECT value FROM meta WHERE key = 'feed_oldest'");
    this.#cutRev = db.prepare('SELECT rev FROM changes WHERE rev > ? ORDER BY seq LIMIT 1 OFFSET ?');
    this.#through = db.prepare('SELECT * FROM changes WHERE rev > ? AND rev <= ? ORDER BY seq');
    this.#leases = db.prepare('SELECT * FROM leases ORDER BY id');
    this.#checkpoints = db.prepare('SELECT * FROM audit_checkpoints ORDER BY seq');
  }

  async changesSince(query: ChangeQuery): Promise<ChangePage> {
    const deadline = performance.now() + Math.max(0, query.waitMs);
    for (;;) {
      const page = await this.ctx.conn.read(() => this.#page(query.after, query.limit));
      const left = deadline - performance.now();
      if (page.changes.length > 0 || left <= 0 || query.signal?.aborted) return page;
      // Another process may write the same file: poll as well as listen for our own commits.
      await this.ctx.conn.nextCommit(Math.min(left, 250), query.signal);
    }
  }

  #page(after: number, limit: number): ChangePage {
    const { db } = this.ctx.conn;
    // One read transaction: the head and the rows are of the same snapshot (WAL).
    return db.transaction(() => {
      const head = (this.#head.get() as { value: number }).value;
      const oldest = (this.#oldest.get() as { value: number }).value;
      if (after < oldest || after > head) throw compacted(after, oldest, head);
      const cut = this.#cutRev.get(after, Math.max(0, limit - 1)) as { rev: number } | undefined;
      const through = cut?.rev ?? head;
      const rows = this.#through.all(after, through) as ChangeRow[];
      const changes = rows.map((row) => SqliteChangeLog.read(row, this.ctx.cipher));
      return { changes, through, head, oldest };
    })();
  }

  replicationSnapshot(): Promise<ReplicationSnapshot> {
    const { ctx } = this;
    const { sql, cipher } = ctx;
    return ctx.conn.read(() =>
      ctx.conn.db.transaction(() => {
        const revision = (this.#head.get() as { value: number }).value;
        const records: ReplicatedRecord[] = [];
        const byLicense = new Map<string, EntitlementRow[]>();
        for (const e of sql.allEntitlements.all() as EntitlementRow[]) {
          byLicense.set(e.license_id, [...(byLicense.get(e.license_id) ?? []), e]);
        }
        for (const row of sql.allLicenses.all() as LicenseRow[]) {
          const value = openLicense(licenseFromRow(row, byLicense.get(row.id) ?? []), cipher);
          records.push({ kind: 'license', id: row.id, value });
        }
        for (const row of sql.listTokens.all() as TokenRow[]) {
          records.push({ kind: 'token', id: row.hash, value: tokenFromRow(row) });
        }
        for (const row of sql.listSigningKeys.all() as SigningKeyRow[]) {
          records.push({
            kind: 'signing-key',
            id: row.kid,
            value: openSigningKey(signingKeyFromRow(row), cipher),
          });
        }
        for (const row of this.#leases.all() as LeaseRow[]) {
          records.push({ kind: 'lease', id: row.id, value: leaseFromRow(row) });
        }
        for (const c of this.#checkpoints.all() as StoredCheckpoint[]) {
          const value = { seq: c.seq, hash: c.hash, time: c.time, node: c.node, jws: c.jws };
          records.push({ kind: 'checkpoint', id: String(c.seq), value });
        }
        return { revision, records };
      })(),
    );
  }
}

export function compacted(after: number, oldest: number, head: number): LeaseholdError {
  return new LeaseholdError(
    'REPLICATION_HISTORY_COMPACTED',
    after > head
      ? `revision ${after} is ahead of this store's head ${head} (another store's history?)`
      : `the change history before revision ${oldest} is no longer kept`,
    { after, oldest, head },
  );
}
