/** How often and how patiently a call goes round the servers. */
export interface RetryPolicy {
  /** Rounds over the whole server list; each round tries every server once. */
  readonly rounds: number;
  /** Upper bound of the wait before the second round; doubles each round. */
  readonly baseDelayMs: number;
  /** Upper bound of any one wait. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  rounds: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
});

/**
 * The wait before round `round` (1-based for the first retry round): "full jitter", uniformly random
 * below an exponentially growing cap, so that clients cut off together do not come back together
 * (M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 */
export function backoffDelay(round: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, round - 1));
  return Math.floor(random() * cap);
}
