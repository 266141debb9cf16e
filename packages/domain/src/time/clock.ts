/**
 * Time is injected everywhere (STYLE.md rule 4). `now()` is wall-clock milliseconds — the only time that
 * is ever signed or stored; `monotonic()` is for intervals inside one process; `setTimer` is the one way
 * server code waits, so that a test drives every background loop with {@link ManualClock} instead of
 * sleeping. The SDK has the same contract in its own package (packages/client/src/time/clock.ts), which
 * depends on jose alone and so cannot import this one.
 */
export interface Clock {
  now(): number;
  monotonic(): number;
  /**
   * Calls `callback` once after `ms` milliseconds and returns a function that cancels it. A `background`
   * timer (a sweep, a heartbeat, a probe) does not keep the process alive (Node's `unref`); a foreground
   * one does. A negative or NaN delay is 0; an infinite one never fires.
   */
  setTimer(callback: () => void, ms: number, background?: boolean): () => void;
}

/** Node's setTimeout fires at once, with a warning, past 2^31 - 1 ms (~24.8 days): longer waits go in legs. */
const LONGEST_TIMEOUT_MS = 2_147_483_647;

const delayOf = (ms: number): number => (Number.isNaN(ms) ? 0 : Math.max(0, ms));

function setSystemTimer(callback: () => void, ms: number, background = false): () => void {
  let left = delayOf(ms);
  let handle: ReturnType<typeof setTimeout> | undefined;
  const leg = () => {
    const wait = Math.min(left, LONGEST_TIMEOUT_MS);
    left -= wait;
    handle = setTimeout(left > 0 ? leg : callback, wait);
    if (background) handle.unref();
  };
  leg();
  return () => clearTimeout(handle);
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: setSystemTimer,
});

interface ManualTimer {
  readonly due: number;
  /** Order of setting: timers due at the same time fire in the order they were set. */
  readonly order: number;
  readonly callback: () => void;
}

/** Bounds one advance(), so that a loop that re-arms a zero-delay timer fails its test instead of hanging. */
const MAX_FIRINGS_PER_ADVANCE = 100_000;
/** Turns of the real event loop given to promises between two firings (the SDK's ManualClock gives 5). */
const SETTLE_TURNS = 5;

/**
 * A clock for tests: time moves only when the test says so. `advance(ms)` moves the wall and monotonic
 * clocks together and fires the timers that fall due, in deadline order, letting the work they start
 * settle between firings — as the SDK's `ManualClock` does, so both read the same in tests. Settling is a
 * few turns of the real event loop: enough for work that waits on promises and synchronous SQLite, not
 * for real network I/O (await that, then `advance(0)`).
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const sweeper = new LeaseSweeper(store, clock, log, { intervalMs: 1000, retentionMs: 60_000 });
 * sweeper.start();
 * await clock.advance(3000); // three sweeps, each finished before the next is due
 * ```
 */
export class ManualClock implements Clock {
  #wall: number;
  #mono = 0;
  #order = 0;
  readonly #timers = new Set<ManualTimer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#wall = start;
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#mono;
  }

  setTimer(callback: () => void, ms: number, _background = false): () => void {
    const timer: ManualTimer = { due: this.#mono + delayOf(ms), order: this.#order++, callback };
    this.#timers.add(timer);
    return () => {
      this.#timers.delete(timer);
    };
  }

  /** Timers set and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves both clocks forward by `ms`, firing every timer due by then in deadline order, with the event
   * loop turned between firings. Throws at once (before any await) on a negative step.
   */
  advance(ms: number): Promise<void> {
    if (!(ms >= 0))
      throw new RangeError('a manual clock only moves forward; use setWall() for wall-clock jumps');
    return this.#runUntil(this.#mono + ms);
  }

  /** Jump the wall clock (NTP step, operator error) without moving monotonic time. */
  setWall(ms: number): void {
    this.#wall = ms;
  }

  async #runUntil(target: number): Promise<void> {
    let fired = 0;
    for (;;) {
      await turns(SETTLE_TURNS);
      const next = this.#firstDue(target);
      if (!next) break;
      if (++fired > MAX_FIRINGS_PER_ADVANCE) {
        throw new Error(`over ${MAX_FIRINGS_PER_ADVANCE} timers fell due in one advance: a zero-delay loop?`);
      }
      this.#timers.delete(next);
      this.#moveTo(next.due);
      next.callback();
    }
    this.#moveTo(target);
    await turns(SETTLE_TURNS);
  }

  #firstDue(target: number): ManualTimer | undefined {
    let first: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.due > target) continue;
      if (!first || timer.due < first.due || (timer.due === first.due && timer.order < first.order)) {
        first = timer;
      }
    }
    return first;
  }

  #moveTo(mono: number): void {
    if (mono <= this.#mono) return;
    this.#wall += mono - this.#mono;
    this.#mono = mono;
  }
}

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
