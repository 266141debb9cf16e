import type { CircuitBreakerPolicy } from 'cockatiel';
import { cockatiel, etcd3 } from './etcd3-module.js';

/**
 * What this node last heard from each etcd member, so that a store operation can tell "no quorum can
 * answer me" from "one member is slow" and give up at once in the first case (issue 15).
 *
 * Why: a node cut off from every member used to keep retrying until its whole 1.5 s budget ran out, and
 * under load its answers took up to 2.05 s against the 2 s promise (invariant 8: a node without quorum
 * says so, so clients fail over). etcd needs a majority of members to answer anything, so once a majority
 * of them failed their latest call just now, waiting for the rest cannot help in time: the operation
 * answers 503 STORE_UNAVAILABLE (retryable) and the client moves on. A minority failing (one member dead
 * or partitioned) never triggers it: the operation retries on the others, as before.
 *
 * Each member keeps the per-host breaker the gateway always had (open after two deadlines in a row, half
 * open after 500 ms); its half-open probes keep a cut-off member's latest failure recent.
 */
export class MemberReachability {
  readonly #members = new Map<string, MemberRecord>();
  readonly #recentMs: number;
  readonly #now: () => number;

  /**
   * @param recentMs how long a failed call still counts (a member not called since may have recovered).
   * @param now monotonic milliseconds (injected for tests).
   */
  constructor(recentMs: number, now: () => number = () => performance.now()) {
    this.#recentMs = recentMs;
    this.#now = now;
  }

  /** The fault-handling policy of one member, for etcd3's `faultHandling.host`. */
  policyFor(host: string): CircuitBreakerPolicy {
    const { circuitBreaker, ConsecutiveBreaker, handleWhen } = cockatiel();
    const { GRPCDeadlineExceededError, isRecoverableError } = etcd3();
    const breaker = circuitBreaker(
      handleWhen((e) => e instanceof GRPCDeadlineExceededError),
      { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(2) },
    );
    const record: MemberRecord = { latest: undefined, breaker };
    this.#members.set(host, record);
    breaker.onSuccess(() => this.#record(record, true));
    breaker.onFailure(({ reason }) => {
      // Only "did not answer" counts: a deadline, or what etcd3 calls recoverable (unavailable, refused).
      // An answer that is an error (a bad request, say) still proves the member is there.
      const error = 'error' in reason ? reason.error : undefined;
      if (
        error instanceof GRPCDeadlineExceededError ||
        (error instanceof Error && isRecoverableError(error))
      ) {
        this.#record(record, false);
      } else {
        this.#record(record, true);
      }
    });
    return breaker;
  }

  /** Records an outcome by hand (tests; calls that bypass the breaker). */
  observe(host: string, answered: boolean): void {
    const record = this.#members.get(host);
    if (record) this.#record(record, answered);
  }

  // The latest outcome, not the latest of each kind compared by time: two outcomes in the same clock
  // tick must still count in the order they happened (the model test found an answer and a failure at
  // one timestamp read as "answered").
  #record(record: MemberRecord, answered: boolean): void {
    record.latest = { answered, at: this.#now() };
  }

  /** True when a majority of members failed their latest call within `recentMs`. */
  majorityFailing(): boolean {
    const now = this.#now();
    let failing = 0;
    for (const m of this.#members.values()) {
      // Only a recent failed call counts, not an open breaker by itself: a breaker opened during an
      // election stays "open" until a call next lands on that member, and counting it made a node that
      // still reached a quorum answer 503 (CI, partition leader scenario, 5.9 s after the cut).
      if (m.latest && !m.latest.answered && now - m.latest.at <= this.#recentMs) failing++;
    }
    return this.#members.size > 0 && failing > this.#members.size / 2;
  }
}

interface MemberRecord {
  latest: { answered: boolean; at: number } | undefined;
  readonly breaker: CircuitBreakerPolicy;
}
