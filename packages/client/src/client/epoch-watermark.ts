import { LeaseholdClientError } from '../errors/leasehold-client-error.js';

/**
 * The highest fencing epoch this client has seen in a verified lease token (docs/replication.md,
 * "Promotion"). A promoted replica signs at a higher epoch than the primary it replaced; once a client
 * has seen that, a grant from the old primary (a lower epoch: it may be partitioned and not know it was
 * superseded) is refused before it is adopted, so a renewal from it never extends a lease. Only signed
 * claims count: the unsigned JSON of an answer could say anything.
 *
 * With a state store the mark survives restarts (state-file.ts saves it at once when it rises), so a
 * restarted client does not accept the old primary's grants again until it meets the new epoch.
 */
export class EpochWatermark {
  #highest = 1;
  readonly #onRise: () => void;

  /** @param onRise called after the mark rose (the state file saves it). */
  constructor(onRise: () => void = () => undefined) {
    this.#onRise = onRise;
  }

  get highest(): number {
    return this.#highest;
  }

  /** Raises the mark to `epoch` (absent: 1, a node older than epochs), or throws EPOCH_STALE below it. */
  observe(epoch: number | undefined, server: string): void {
    const seen = epoch ?? 1;
    if (seen < this.#highest) {
      throw new LeaseholdClientError(
        'EPOCH_STALE',
        `${server} signed at fencing epoch ${seen}, below epoch ${this.#highest} this client has seen: it was superseded by a promoted primary`,
        // Another node (the new primary) can answer; the grant is not adopted.
        { server, retryable: true },
      );
    }
    this.raise(seen);
  }

  /** Raises the mark to an epoch known to have been seen (one persisted by an earlier run); never lowers it. */
  raise(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch <= this.#highest) return;
    this.#highest = epoch;
    this.#onRise();
  }
}
