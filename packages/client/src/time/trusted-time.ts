import type { Clock } from './clock.js';

/**
 * Wall-clock time that never runs backwards: the wall clock, but never earlier than the latest wall time
 * already seen plus the monotonic time elapsed since. A clock set back two days therefore cannot make an
 * expired token valid again. The mark survives restarts when the client has a state store
 * (`ClientOptions.stateStore`); without one it protects the running process only.
 *
 * It does not help against a clock set *forward*: that only shortens what the application gets.
 */
export class TrustedTime {
  readonly #clock: Clock;
  #markWall = Number.NEGATIVE_INFINITY;
  #markMono = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The current trusted wall time, epoch milliseconds. */
  now(): number {
    const wall = this.#clock.now();
    const mono = this.#clock.monotonic();
    const floor = this.#markWall + (mono - this.#markMono);
    if (wall >= floor) {
      this.#markWall = wall;
      this.#markMono = mono;
      return wall;
    }
    return floor;
  }

  /** Raises the mark to a wall time known to have passed (one persisted by an earlier run). */
  observe(wall: number): void {
    if (Number.isFinite(wall) && wall > this.now()) {
      this.#markWall = wall;
      this.#markMono = this.#clock.monotonic();
    }
  }
}
