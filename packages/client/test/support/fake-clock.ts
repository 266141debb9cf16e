import type { Clock } from '@leasehold/client';

/** A clock whose sleeps return at once and are recorded; time moves only by them. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): Clock & { readonly sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}
