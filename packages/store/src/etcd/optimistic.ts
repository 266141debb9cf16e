import { LeaseholdError } from '@leasehold/domain';
import { Conflict } from './conflict.js';
import { EtcdTransientError, operationDeadline, storeUnavailable } from './etcd-gateway.js';

/** What every attempt needs first: the cluster's data key, read (or made) once per store. */
export interface DataKeyLoader {
  readonly ready: boolean;
  load(): Promise<void>;
}

/**
 * The retry loop every etcd store operation runs in: read, decide, write one compare-guarded
 * transaction; a Conflict or a transient etcd error re-reads and decides again (the re-read finds a write
 * whose outcome was unknown, so nothing is blindly repeated), until the operation's budget runs out.
 */
export class Optimistic {
  readonly #budgetMs: number;
  readonly #random: () => number;
  readonly #dataKey: DataKeyLoader;
  readonly #quorumUnreachable: () => boolean;

  /** @param quorumUnreachable true when a majority of etcd members just failed (EtcdGateway). */
  constructor(
    budgetMs: number,
    random: () => number,
    dataKey: DataKeyLoader,
    quorumUnreachable: () => boolean,
  ) {
    this.#budgetMs = budgetMs;
    this.#random = random;
    this.#dataKey = dataKey;
    this.#quorumUnreachable = quorumUnreachable;
  }

  /**
   * Runs `attempt` until it returns, throws a LeaseholdError, or the budget ends. Conflicts retry at once;
   * transient etcd errors retry after a short jittered pause.
   */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    const start = performance.now();
    // Unavailability gives up after the budget (a 503 within 2 s: invariant 8). Conflicts mean etcd is
    // answering and another writer won; those may retry longer, since every round makes progress.
    // An enclosing deadline (the HTTP request's, see the server's onRequest hook) may only shorten it.
    const unavailableBy = Math.min(
      start + this.#budgetMs,
      operationDeadline.getStore() ?? Number.POSITIVE_INFINITY,
    );
    const contendedBy = start + this.#budgetMs * 4;
    let lastError: unknown;
    for (let round = 0; ; round++) {
      const now = performance.now();
      if (now >= contendedBy || (lastError instanceof EtcdTransientError && now >= unavailableBy)) break;
      try {
        return await operationDeadline.run(lastError instanceof Conflict ? contendedBy : unavailableBy, () =>
          this.#dataKey.ready ? attempt() : this.#dataKey.load().then(attempt),
        );
      } catch (err) {
        if (err instanceof LeaseholdError) throw err;
        if (!(err instanceof Conflict) && !(err instanceof EtcdTransientError)) throw err;
        lastError = err;
        // No quorum can answer: a majority of members just failed. Retrying until the budget ends only
        // delays the 503 the client needs to fail over (issue 15: a cut-off node answered after 2.05 s).
        if (err instanceof EtcdTransientError && this.#quorumUnreachable()) break;
        if (err instanceof EtcdTransientError) {
          const pause = Math.min(200, 20 * 2 ** Math.min(round, 4)) * (0.5 + this.#random());
          const left = Math.max(0, unavailableBy - performance.now());
          await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        }
      }
    }
    throw lastError instanceof Conflict
      ? new LeaseholdError('STORE_UNAVAILABLE', 'too much contention on this seat pool; retry', undefined, {
          cause: lastError,
        })
      : storeUnavailable(lastError);
  }
}
