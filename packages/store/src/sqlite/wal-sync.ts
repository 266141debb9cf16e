import { closeSync, fdatasync, openSync } from 'node:fs';
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
 */
export class WalSync {
  readonly #walPath: string;
  readonly #sync: DataSync;
  #fd: number | undefined;
  /** The sync running now; it covers the commits made before it started. */
  #running: Promise<void> | undefined;
  /** The sync that starts when the running one ends, for the commits made since it started. */
  #queued: Promise<void> | undefined;

  constructor(walPath: string, sync: DataSync = fdatasyncOnPool) {
    this.#walPath = walPath;
    this.#sync = sync;
  }

  /** Call right after a commit: resolves once that commit (and every earlier one) is on disk. */
  committed(): Promise<void> {
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
    return this.#queued ?? this.#running;
  }

  /** Waits for the syncs in flight, then closes the WAL's descriptor. */
  async close(): Promise<void> {
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
    if (this.#fd === undefined) {
      try {
        // The WAL exists from the first commit on; SQLite keeps it (and its inode) while a connection is
        // open, so one descriptor serves for the life of the store.
        this.#fd = openSync(this.#walPath, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing committed to a WAL yet
        throw err;
      }
    }
    try {
      await this.#sync(this.#fd);
    } catch (err) {
      // Committed but not known to be on disk: an unknown outcome, retryable like any store failure.
      throw new LeaseholdError(
        'STORE_UNAVAILABLE',
        `the embedded store could not sync its log to disk: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        undefined,
        { cause: err },
      );
    }
  }
}
