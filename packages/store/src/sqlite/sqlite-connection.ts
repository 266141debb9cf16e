import { LeaseholdError } from '@leasehold/domain';
import Database from 'better-sqlite3';
import { storeSchemaTooNew } from '../port/store-schema.js';
import { GroupCommitter } from './group-commit.js';
import { MIGRATIONS } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';

export interface SqliteConnectionOptions {
  readonly path: string;
  readonly synchronous?: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs?: number;
}

/**
 * The open data file: pragmas, schema migrations, the prepared statements, and the two ways in — a
 * write (atomic, batched with concurrent writes by the GroupCommitter) and a read. SQLite lock timeouts
 * and I/O errors become the retryable STORE_UNAVAILABLE.
 */
export class SqliteConnection {
  readonly db: Database.Database;
  readonly sql: Statements;
  readonly #commits: GroupCommitter;

  constructor(options: SqliteConnectionOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
    try {
      this.#migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.sql = prepareStatements(this.db);
    this.#commits = new GroupCommitter(this.db, translate);
  }

  /**
   * Brings the file to this release's schema. The version is read inside the write transaction
   * (`BEGIN IMMEDIATE`: SQLite's one writer lock is the fence), so two processes opening one file at once
   * cannot both run a migration; a crash mid-way rolls all of it back and the next open runs it again.
   * A file from a newer release is refused before anything is written to it.
   */
  #migrate(): void {
    this.db
      .transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        if (current > MIGRATIONS.length) throw storeSchemaTooNew('sqlite', current, MIGRATIONS.length);
        if (current === MIGRATIONS.length) return;
        MIGRATIONS.slice(current).forEach((sql) => {
          this.db.exec(sql);
        });
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  /** Runs `fn` atomically in a write transaction (batched with concurrent writes, see GroupCommitter). */
  write<T>(fn: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(closedStore());
    return this.#commits.run(fn);
  }

  read<T>(fn: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(closedStore());
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  /** Bumps the store-wide revision (inside a write); a grant's revision is its lease's fence. */
  nextRevision(): number {
    return (this.sql.bumpRevision.get() as { value: number }).value;
  }

  async close(): Promise<void> {
    await this.#commits.drain();
    if (this.db.open) this.db.close();
  }
}

function closedStore(): LeaseholdError {
  return new LeaseholdError('STORE_UNAVAILABLE', 'the embedded store is closed (the node is shutting down)');
}

function translate(err: unknown): unknown {
  if (err instanceof LeaseholdError) return err;
  const code = (err as { code?: unknown }).code;
  if (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    code === 'SQLITE_IOERR' ||
    code === 'SQLITE_FULL'
  ) {
    return new LeaseholdError('STORE_UNAVAILABLE', `the embedded store failed: ${String(code)}`, undefined, {
      cause: err,
    });
  }
  return err;
}
