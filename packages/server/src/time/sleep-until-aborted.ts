/**
 * Waits `ms`, or less when `signal` aborts; never rejects. For background loops that check their own
 * stop flag after each wait (node:timers/promises' setTimeout rejects on abort, which such a loop would
 * only have to catch and drop).
 */
export function sleepUntilAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
