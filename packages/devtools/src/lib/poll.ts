import { setTimeout as sleep } from 'node:timers/promises';
import { DevtoolsError } from '../errors.js';

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** What the wait was for, for the timeout message. */
  readonly what: string;
}

/**
 * Calls `probe` until it returns a value other than `undefined`, at most for `timeoutMs` (monotonic clock).
 * `probe` gets the time left so it can bound its own calls; it may throw to abort the wait at once.
 * On timeout the error carries the last note the probe left through `note`.
 */
export async function pollUntil<T>(
  probe: (remainingMs: number, note: (observation: string) => void) => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let last = 'nothing observed yet';
  const note = (observation: string) => {
    last = observation;
  };
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      throw new DevtoolsError(
        'ETCD_TIMEOUT',
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}; last seen: ${last}`,
      );
    }
    const value = await probe(remaining, note);
    if (value !== undefined) return value;
    await sleep(Math.min(options.intervalMs ?? 50, Math.max(0, deadline - performance.now())));
  }
}
