import { type Clock, LeaseholdError, type PrivateKeyInfo } from '@leasehold/domain';
import { sleepUntilAborted } from '../time/sleep-until-aborted.js';
import { signFenceStatement } from './fence-statement.js';
import type { HttpUpstreamFeed } from './upstream-feed.js';

export interface FenceNotifierOptions {
  /** The old primary (the `--replica-of` URL the promoted node followed). */
  readonly oldPrimary: Pick<HttpUpstreamFeed, 'url' | 'fence'>;
  /** This node's URL, as the fenced primary will name it to writers. */
  readonly self: string;
  readonly epoch: number;
  readonly signer: () => PrivateKeyInfo;
  readonly clock: Clock;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface FenceNotifierStatus {
  readonly oldPrimary: string;
  readonly delivered: boolean;
  readonly attempts: number;
  readonly lastError: string | undefined;
}

/**
 * After a promotion, tells the old primary it was superseded, until it hears (docs/replication.md,
 * "Promotion"): while the partition lasts every try fails (each within 2 s), with backoff from 250 ms
 * doubling to 1 s — one small request a second to an unreachable host — so the old primary learns within
 * about 3 s of the link's return: that is the window in which it may still grant to clients that reach it
 * and have not seen the new epoch. Ends once the old primary recorded the
 * fence, or answered that it is at this epoch or a later one (EPOCH_STALE: someone promoted again).
 */
export class FenceNotifier {
  readonly #o: Required<FenceNotifierOptions>;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #delivered = false;
  #attempts = 0;
  #lastError: string | undefined;

  constructor(options: FenceNotifierOptions) {
    this.#o = { minBackoffMs: 250, maxBackoffMs: 1000, ...options };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  status(): FenceNotifierStatus {
    return {
      oldPrimary: this.#o.oldPrimary.url,
      delivered: this.#delivered,
      attempts: this.#attempts,
      lastError: this.#lastError,
    };
  }

  async #run(): Promise<void> {
    const { oldPrimary, log } = this.#o;
    const signal = this.#stop.signal;
    let backoff = this.#o.minBackoffMs;
    while (!signal.aborted) {
      this.#attempts++;
      try {
        const statement = await signFenceStatement(
          { epoch: this.#o.epoch, primary: this.#o.self },
          this.#o.signer(),
          this.#o.clock.now(),
        );
        await oldPrimary.fence(statement, signal);
        this.#delivered = true;
        this.#lastError = undefined;
        log.info({ oldPrimary: oldPrimary.url, epoch: this.#o.epoch }, 'the old primary is fenced');
        return;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof LeaseholdError && err.code === 'EPOCH_STALE') {
          this.#lastError = err.message;
          log.warn(
            { err, oldPrimary: oldPrimary.url },
            'the old primary is at this epoch or later; not fencing',
          );
          return;
        }
        this.#lastError = (err as Error).message;
        if (this.#attempts === 1 || this.#attempts % 20 === 0) {
          log.warn(
            { err, retryInMs: backoff, attempts: this.#attempts },
            'cannot fence the old primary yet; retrying',
          );
        }
      }
      await sleepUntilAborted(backoff, signal);
      backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
    }
  }
}
