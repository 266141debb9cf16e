/**
 * The SDK's only source of time. Inject a fake one in tests: backoff waits then take no real time, and
 * lease timing can be driven step by step (STYLE.md rule 4).
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds (lease times are wall-clock: the server signs them). */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});
