import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { LeaseholdError } from '@leasehold/domain';

/** Flushes a file descriptor's data to disk (injected for tests; fdatasync on the thread pool by default). */
export type DataSync = (fd: number) => Promise<void>;

const fdatasyncOnPool: DataSync = (fd) =>
  new Promise((resolve, reject) => {
    fdatasync(fd, (err) => (err ? reject(err) : resolve()));
  });

/**
 * `synchronous = FULL` without holding the event loop. SQLite at FULL fsyncs the WAL inside every
 * COMMIT, and better-sqlite3 runs COMMIT on the event loop: in a CPU profile of the embedded benchmark
 * the commit was 10-20% of the node's main-thread time, and no request was parsed, signed or answered
 * while a commit waited for the disk (streaks of 10-17 ms). Instead the connection runs at `NORMAL` —
 * its commits write the WAL without syncing it — and every write is acknowledged only after an
 * `fdatasync` of the WAL that started after its commit, on the thread pool. That is FULL's promise for
 * what a client is told (nothing acknowledged before it is on disk, invariant 3) with the wait moved off
 * the event loop; one sync covers every commit made before it started (group commit across batches).
 *
 * Reads answer only once every commit they could have seen is on disk too (`settled`), so no answer —
 * a replayed checkout, a lease read back — shows a write that a crash could still take away.
 *
 * Why NORMAL loses nothing here that FULL keeps (SQLite's wal.c, sqlite.org/wal.html): at NORMAL SQLite
 * still syncs the WAL before a checkpoint copies any of it into the database file, syncs the database
 * file before the checkpoint is marked done, and syncs a restarted WAL's new header before writing frames
 * over old ones. So a checkpoint or a WAL restart only ever follows a sync of every frame it covers, and
 * the frames of a commit are in the one WAL file (same inode for the connection's life) that the next
 * `fdatasync` here flushes, whichever descriptor wrote them.
 *
 * A failed sync stops the store (fail-stop, like PostgreSQL after a failed fsync): the commit it covered
 * is visible to this connection but may never reach the disk, and Linux may have dropped the dirty pages
 * it failed to write, so no later read or write can be trusted; every one answers STORE_UNAVAILABLE
 * until the node restarts and SQLite recovers from what is on disk.
 */
export class WalSync {
  readonly #walPath: string;
  readonly #sync: DataSync;
  #fd: number | undefined;
  /** The sync running now; it covers the commits made before it started. */
  #running: Promise<void> | undefined;
  /** The sync that starts when the running one ends, for the commits made since it started. */
  #queued: Promise<void> | undefined;
  /** The first failed sync's error: set once, the store answers nothing more (see above). */
  #failure: LeaseholdError | undefined;

  constructor(walPath: string, sync: DataSync = fdatasyncOnPool) {
    this.#walPath = walPath;
    this.#sync = sync;
  }

  /** The error of a failed sync, once one failed: the connection refuses everything after it. */
  get failure(): LeaseholdError | undefined {
    return this.#failure;
  }

  /**
   * Syncs the WAL now, blocking: for the writes a store makes while it opens (migrations, the data key),
   * which no acknowledgement waits for, before it serves anything.
   */
  syncBlocking(): void {
    if (!this.#open()) return;
    try {
      fdatasyncSync(this.#fd as number);
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /** Call right after a commit: resolves once that commit (and every earlier one) is on disk. */
  committed(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#running) return this.#start();
    this.#queued ??= this.#running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.#queued = undefined;
        return this.#start();
      });
    return this.#queued;
  }

  /** Resolves once every commit made so far is on disk; undefined when nothing is waiting for the disk. */
  settled(): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#queued ?? this.#running;
  }

  /** Waits for the syncs in flight, then closes the WAL's descriptor. */
  async close(): Promise<void> {
    if (this.#failure) this.#running = this.#queued = undefined;
    await this.settled()?.catch(() => undefined);
    await this.settled()?.catch(() => undefined);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #start(): Promise<void> {
    const run = this.#syncNow().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #syncNow(): Promise<void> {
    // A sync queued behind one that failed covers commits that failed sync may have dropped: Linux reports
    // a write-back error once per descriptor, so this one could succeed without their pages on disk.
    if (this.#failure) throw this.#failure;
    if (!this.#open()) return;
    try {
      await this.#sync(this.#fd as number);
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /** Opens the WAL once; false while there is none yet (no commit has been made to a WAL). */
  #open(): boolean {
    if (this.#fd !== undefined) return true;
    try {
      // SQLite keeps the WAL (and its inode) while a connection is open, so one descriptor serves for
      // the life of the store; opened early, it also receives any write-back error from then on.
      this.#fd = openSync(this.#walPath, 'r');
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.#failed(err);
    }
  }

  #failed(err: unknown): LeaseholdError {
    // Committed but not known to be on disk: an unknown outcome for what it covered, retryable elsewhere.
    this.#failure ??= new LeaseholdError(
      'STORE_UNAVAILABLE',
      `the embedded store could not sync its log to disk (${(err as NodeJS.ErrnoException).code ?? String(err)}); it answers nothing more until the node restarts`,
      undefined,
      { cause: err },
    );
    return this.#failure;
  }
}
