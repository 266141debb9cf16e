/**
 * Time is injected everywhere (STYLE.md rule 4). `now()` is wall-clock milliseconds — the only time that
 * is ever signed or stored; `monotonic()` is for intervals inside one process.
 */
export interface Clock {
  now(): number;
  monotonic(): number;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
});

/** A clock for tests: time moves only when the test says so. */
export class ManualClock implements Clock {
  #wall: number;
  #mono = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#wall = start;
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#mono;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a manual clock only moves forward; use setWall() for wall-clock jumps');
    this.#wall += ms;
    this.#mono += ms;
  }

  /** Jump the wall clock (NTP step, operator error) without moving monotonic time. */
  setWall(ms: number): void {
    this.#wall = ms;
  }
}
