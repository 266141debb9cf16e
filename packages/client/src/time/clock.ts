/**
 * The SDK's only source of time (STYLE.md rule 4). Inject a fake one in tests — `ManualClock` from
 * `@leasehold/client/testing` — and renewals, grace and backoff run step by step without real waits.
 *
 * @example
 * ```ts
 * import { ManualClock } from '@leasehold/client/testing';
 * const clock = new ManualClock();
 * const client = createClient({ servers, token, clientId, clock });
 * await clock.advance(20_000); // the renewal due at a third of a 60 s lease runs now
 * ```
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds. Only for what is compared with signed times. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never go backwards: intervals inside the process (lease
   * deadlines, latency, circuit cool-downs) are measured with it, so a wall-clock step cannot stretch them.
   */
  monotonic(): number;
  /**
   * Calls `callback` once after `ms` milliseconds and returns a function that cancels it. A `background`
   * timer (renewals, grace deadlines, node discovery) must not keep the process alive (Node: `unref`);
   * a foreground one (the backoff inside a call the application awaits) must.
   */
  setTimer(callback: () => void, ms: number, background?: boolean): () => void;
}

// setTimeout fires at once, with a warning, for delays above 2^31 - 1 ms (about 24.8 days); a 30-day grace
// deadline would then end a lease immediately. Longer waits are chained.
const MAX_TIMER_MS = 2_147_483_647;

function systemTimer(callback: () => void, ms: number, background = false): () => void {
  let cancelled = false;
  let handle: ReturnType<typeof setTimeout>;
  const arm = (remaining: number) => {
    const step = Math.min(Math.max(0, remaining), MAX_TIMER_MS);
    handle = setTimeout(() => {
      if (cancelled) return;
      if (remaining > MAX_TIMER_MS) arm(remaining - MAX_TIMER_MS);
      else callback();
    }, step);
    // Browsers return a number; Node, Deno and Bun return an object with unref().
    if (background) (handle as { unref?: () => void }).unref?.();
  };
  arm(ms);
  return () => {
    cancelled = true;
    clearTimeout(handle);
  };
}

/** The real clock: `Date.now()`, `performance.now()` and `setTimeout`. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: systemTimer,
});

/**
 * Waits `ms` on `clock`. Resolves early, without throwing, when `signal` aborts: the caller checks the
 * signal, so a closing client unwinds its loops quickly.
 */
export function sleep(
  clock: Clock,
  ms: number,
  options: { signal?: AbortSignal; background?: boolean } = {},
) {
  const { signal, background = false } = options;
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.setTimer(done, ms, background);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Checks that `clock` has the three methods; a mistake is the caller's, so a `TypeError`. */
export function checkClock(clock: unknown): Clock {
  const c = clock as Partial<Clock> | null | undefined;
  if (typeof c?.now !== 'function' || typeof c.monotonic !== 'function' || typeof c.setTimer !== 'function') {
    throw new TypeError('options.clock must have now(), monotonic() and setTimer(callback, ms, background)');
  }
  return c as Clock;
}
