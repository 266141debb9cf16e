import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { LeaseholdError } from '@leasehold/domain';
import Database from 'better-sqlite3';
import { storeSchemaTooNew } from '../port/store-schema.js';
import { GroupCommitter } from './group-commit.js';
import { MIGRATIONS } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';
import { type DataSync, WalSync } from './wal-sync.js';

export interface SqliteConnectionOptions {
  readonly path: string;
  readonly synchronous?: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs?: number;
  /** How the WAL is flushed to disk at `FULL` (tests inject a slow or failing one). */
  readonly dataSync?: DataSync;
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
  /** At FULL: the WAL syncs every acknowledgement waits for (wal-sync.ts); undefined at NORMAL. */
  readonly #walSync: WalSync | undefined;
  /** Waiters for the next commit of this process (the change feed's long-poll). */
  #commitWaiters = new Set<() => void>();

  constructor(options: SqliteConnectionOptions) {
    ownerOnly(options.path);
    this.db = new Database(options.path);
    const wal = this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    // FULL is kept by syncing the WAL off the event loop before acknowledging (wal-sync.ts), so SQLite
    // itself runs at NORMAL: its COMMIT writes the WAL and returns without waiting for the disk.
    const full = (options.synchronous ?? 'FULL') === 'FULL';
    this.db.pragma(`synchronous = ${full && !wal ? 'FULL' : 'NORMAL'}`);
    this.#walSync = full && wal ? new WalSync(`${options.path}-wal`, options.dataSync) : undefined;
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
    try {
      this.#migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.sql = prepareStatements(this.db);
    const walSync = this.#walSync;
    this.#commits = new GroupCommitter(this.db, translate, 256, walSync && (() => walSync.committed()));
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
    const failure = this.#walSync?.failure;
    if (failure) return Promise.reject(failure);
    const done = this.#commits.run(fn);
    done.then(
      () => this.#wakeCommitWaiters(),
      () => this.#wakeCommitWaiters(),
    );
    return done;
  }

  /** Resolves after this process's next write settles, after `ms`, or when `signal` aborts. */
  nextCommit(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#commitWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#commitWaiters.add(done);
    });
  }

  #wakeCommitWaiters(): void {
    if (this.#commitWaiters.size === 0) return;
    for (const wake of [...this.#commitWaiters]) wake();
  }

  /**
   * A read whose result no client sees as such — an authentication lookup, a check before a write — and
   * so need not wait for commits still being synced: a token or license it finds was created by a write
   * not yet acknowledged to anyone, and a decision made on it is acknowledged only through a write, which
   * waits for its own sync (and with it every earlier commit). Waiting here cost every request one more
   * sync (wal-sync.ts).
   */
  readForDecision<T>(fn: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(closedStore());
    const failure = this.#walSync?.failure;
    if (failure) return Promise.reject(failure);
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  /**
   * Runs `fn` now; its answer waits until every commit it could have seen is on disk (wal-sync.ts), so
   * no read shows a write a crash could still undo.
   */
  read<T>(fn: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(closedStore());
    let value: T;
    try {
      value = fn();
    } catch (err) {
      return Promise.reject(translate(err));
    }
    const syncing = this.#walSync?.settled();
    return syncing
      ? syncing.then(
          () => value,
          (err: unknown) => Promise.reject(translate(err)),
        )
      : Promise.resolve(value);
  }

  /**
   * Makes the writes of opening the store durable (migrations, the data key, a replica's take-over),
   * which ran before anything could wait for a WAL sync; the store calls it once before it serves.
   */
  syncOpenWrites(): void {
    this.#walSync?.syncBlocking();
  }

  /** Bumps the store-wide revision (inside a write); a grant's revision is its lease's fence. */
  nextRevision(): number {
    return (this.sql.bumpRevision.get() as { value: number }).value;
  }

  async close(): Promise<void> {
    await this.#commits.drain();
    await this.#walSync?.close();
    if (this.db.open) this.db.close();
  }
}

/** The files SQLite keeps beside a database in WAL mode. */
const SIDE_FILES = ['-wal', '-shm'];

/**
 * Creates the database file readable by its owner only (0600), and tightens one an older version made
 * 0644. SQLite creates `-wal` and `-shm` with the main file's permission bits (os_unix.c,
 * findCreateFileMode), so they follow; existing ones are tightened too. The data directory is 0700 as well,
 * but the files should not rely on it (issue 11): a copy or a moved directory keeps the files' own modes.
 */
function ownerOnly(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, ...SIDE_FILES.map((suffix) => `${path}${suffix}`)]) {
    if (existsSync(file)) chmodSync(file, 0o600);
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
