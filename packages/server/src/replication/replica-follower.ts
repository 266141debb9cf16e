import { type Clock, LeaseholdError } from '@leasehold/domain';
import type { ReplicaTarget } from '@leasehold/store';
import { sleepUntilAborted } from '../time/sleep-until-aborted.js';
import type { UpstreamFeed } from './upstream-feed.js';

export interface ReplicaStatus {
  readonly primary: string;
  /** The primary's revision the replica has applied everything up to (-1: nothing yet). */
  readonly position: number;
  /** The primary's head as last reported. */
  readonly head: number;
  readonly lagRevisions: number;
  /** Since when the replica has known of changes it has not applied; 0 while caught up. */
  readonly lagSeconds: number;
  /** Seconds since the primary last answered (a cut link shows here, not in the lag). */
  readonly lastContactSeconds: number | undefined;
  readonly connected: boolean;
  readonly appliedChanges: number;
  readonly snapshotReloads: number;
  readonly lastError: string | undefined;
}

export interface ReplicaFollowerOptions {
  readonly upstream: UpstreamFeed;
  readonly target: ReplicaTarget;
  readonly clock: Clock;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** The long-poll each feed request asks for. */
  readonly waitMs?: number;
  readonly pageLimit?: number;
  /** Backoff after a failed request: from `minBackoffMs`, doubling, capped at `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Called after each applied page or snapshot (metrics, tests). */
  readonly onApplied?: (status: ReplicaStatus) => void;
}

/**
 * Follows a primary's change feed into a `ReplicaTarget` (docs/replication.md): read the committed
 * position, ask for the changes after it, apply them with the new position in one transaction, repeat.
 * A 410 REPLICATION_HISTORY_COMPACTED reloads the snapshot (replacing the state, deletes included) and
 * resumes after it. Any other failure (primary down, network cut) backs off and asks again from the
 * committed position, so a restart or a lost answer neither skips nor repeats a change.
 *
 * Reusable: an edge site follows its primary with the same class into its own store.
 */
export class ReplicaFollower {
  readonly #o: Required<Omit<ReplicaFollowerOptions, 'onApplied'>> &
    Pick<ReplicaFollowerOptions, 'onApplied'>;
  #running: Promise<void> | undefined;
  #stop = new AbortController();
  #position = -1;
  #head = -1;
  #behindSince: number | undefined;
  #lastContact: number | undefined;
  #connected = false;
  #applied = 0;
  #reloads = 0;
  #lastError: string | undefined;
  #caughtUp: (() => void)[] = [];

  constructor(options: ReplicaFollowerOptions) {
    this.#o = {
      waitMs: 25_000,
      pageLimit: 1000,
      minBackoffMs: 100,
      maxBackoffMs: 5000,
      ...options,
    };
  }

  start(): void {
    this.#running ??= this.#run().catch((err: unknown) => {
      this.#o.log.warn({ err }, 'the replica follower stopped on an unexpected error');
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  status(): ReplicaStatus {
    const now = this.#o.clock.monotonic();
    return {
      primary: this.#o.upstream.url,
      position: this.#position,
      head: this.#head,
      lagRevisions: Math.max(0, this.#head - this.#position),
      lagSeconds: this.#behindSince === undefined ? 0 : (now - this.#behindSince) / 1000,
      lastContactSeconds: this.#lastContact === undefined ? undefined : (now - this.#lastContact) / 1000,
      connected: this.#connected,
      appliedChanges: this.#applied,
      snapshotReloads: this.#reloads,
      lastError: this.#lastError,
    };
  }

  /** Resolves once a page or snapshot has been applied with nothing newer known (tests, start-up). */
  caughtUp(): Promise<void> {
    if (this.#position >= 0 && this.#position >= this.#head) return Promise.resolve();
    return new Promise((resolve) => this.#caughtUp.push(resolve));
  }

  async #run(): Promise<void> {
    const { target, upstream, log } = this.#o;
    const signal = this.#stop.signal;
    const committed = await target.replicaPosition();
    this.#position = committed.position;
    this.#head = Math.max(committed.head, committed.position);
    let backoff = this.#o.minBackoffMs;
    while (!signal.aborted) {
      try {
        // Caught up: long-poll. Behind: ask without waiting.
        const waitMs = this.#position >= this.#head ? this.#o.waitMs : 0;
        const page = await upstream.changes(this.#position, this.#o.pageLimit, waitMs, signal);
        this.#contact();
        const result = await target.applyChanges(page.changes, page, this.#o.clock.now());
        this.#moved(result.position, page.head, result.applied);
        backoff = this.#o.minBackoffMs;
      } catch (err) {
        if (signal.aborted) break;
        let failure = err;
        if (err instanceof LeaseholdError && err.code === 'REPLICATION_HISTORY_COMPACTED') {
          this.#contact();
          log.info(
            { position: this.#position, detail: err.message },
            'replica behind the retained history: reloading the snapshot',
          );
          try {
            const snapshot = await upstream.snapshot(signal);
            const result = await target.replaceState(snapshot, this.#o.clock.now());
            this.#reloads++;
            this.#moved(result.position, Math.max(this.#head, snapshot.revision), result.applied);
            continue;
          } catch (reloadErr) {
            if (signal.aborted) break;
            failure = reloadErr;
          }
        }
        this.#connected = false;
        this.#lastError =
          failure instanceof LeaseholdError
            ? `${failure.code}: ${failure.message}`
            : (failure as Error).message;
        log.warn({ err: failure, retryInMs: backoff }, 'replica cannot follow its primary; retrying');
        await sleepUntilAborted(backoff, signal);
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
      }
    }
  }

  #contact(): void {
    this.#connected = true;
    this.#lastError = undefined;
    this.#lastContact = this.#o.clock.monotonic();
  }

  #moved(position: number, head: number, applied: number): void {
    this.#position = position;
    this.#head = Math.max(head, position);
    this.#applied += applied;
    if (this.#position >= this.#head) {
      this.#behindSince = undefined;
      for (const resolve of this.#caughtUp.splice(0)) resolve();
    } else {
      this.#behindSince ??= this.#o.clock.monotonic();
    }
    this.#o.onApplied?.(this.status());
  }
}
