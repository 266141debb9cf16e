import { LeaseholdClientError } from '../errors/leasehold-client-error.js';

/**
 * The highest fencing epoch this client has seen in a verified lease token (docs/replication.md,
 * "Promotion"). A promoted replica signs at a higher epoch than the primary it replaced; once a client
 * has seen that, a grant from the old primary (a lower epoch: it may be partitioned and not know it was
 * superseded) is refused before it is adopted, so a renewal from it never extends a lease. Only signed
 * claims count: the unsigned JSON of an answer could say anything.
 */
export class EpochWatermark {
  #highest = 1;

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
    this.#highest = seen;
  }
}
