import { setTimeout as sleep } from 'node:timers/promises';
import { DevtoolsError, type DevtoolsErrorCode } from '../errors.js';

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** What the wait was for, for the timeout message. */
  readonly what: string;
  /** The code of the timeout error: `WAIT_TIMEOUT` unless the caller is more specific (`ETCD_TIMEOUT`). */
  readonly code?: DevtoolsErrorCode;
}

/**
 * Calls `probe` until it returns a value other than `undefined` or `false`, at most for `timeoutMs`
 * (monotonic clock): the one bounded wait of the tests, benches and harness. `probe` gets the time left so
 * it can bound its own calls; it may throw to abort the wait at once. On timeout it throws
 * {@link DevtoolsError} (`WAIT_TIMEOUT` unless `code` says otherwise) naming `what` and the last note the
 * probe left through `note`.
 *
 * @example
 * ```ts
 * await pollUntil(() => events.includes('renewed'), { what: 'a first renewal', timeoutMs: 10_000 });
 * const leader = await pollUntil(async () => (await status()).leader, { what: 'a leader', timeoutMs: 5_000 });
 * ```
 */
export async function pollUntil<T>(
  probe: (
    remainingMs: number,
    note: (observation: string) => void,
  ) => Promise<T | undefined | false> | T | undefined | false,
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
        options.code ?? 'WAIT_TIMEOUT',
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}; last seen: ${last}`,
      );
    }
    const value = await probe(remaining, note);
    if (value !== undefined && value !== false) return value as T;
    await sleep(Math.min(options.intervalMs ?? 50, Math.max(0, deadline - performance.now())));
  }
}
