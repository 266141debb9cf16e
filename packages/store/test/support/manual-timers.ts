import type { BatchTimers } from '../../src/etcd/txn-batcher.js';

/** Batch-window timers the test fires by hand (`fire` runs every pending one). */
export function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 0;
  const timers: BatchTimers = {
    set: (fn) => {
      pending.set(++next, fn);
      return next;
    },
    clear: (h) => pending.delete(h as number),
  };
  const fire = () => {
    const fns = [...pending.values()];
    pending.clear();
    for (const fn of fns) fn();
  };
  return { timers, fire, pending };
}
