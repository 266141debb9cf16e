import type { Clock } from '../time/clock.js';

/** One timer the SDK set, as recorded by {@link ManualClock.scheduled}. */
export interface ScheduledTimer {
  readonly delayMs: number;
  /** Background timers (renewals, deadlines) do not keep a process alive; foreground ones (backoff) do. */
  readonly background: boolean;
}

interface PendingTimer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

// Bounds on one advance() or run(), so that a timer loop fails a test instead of hanging it.
const MAX_TIMERS_PER_ADVANCE = 100_000;
const SETTLE_TURNS = 5;

/**
 * A clock that moves only when told to: pass it as `createClient({ clock })` and drive renewals, grace
 * deadlines, backoff and circuit cool-downs without waiting. `advance(ms)` moves the wall and monotonic
 * clocks together and fires due timers in order, letting the SDK's promises settle between them;
 * `jumpWall(ms)` moves the wall clock alone, as an NTP step or a user changing the date does.
 *
 * Settling yields a few turns of the real event loop between timers. That is enough for the SDK against
 * {@link FakeCluster} (which answers within the turn); work that waits on real I/O needs real waiting.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const cluster = await FakeCluster.start({ now: () => clock.now(), ttlSeconds: 60, graceSeconds: 300 });
 * const client = createClient({ ...cluster.clientOptions(), clock });
 * const lease = await client.checkout('app');
 * cluster.node(0).mode = 'down'; // ... and the others
 * await clock.advance(60_000 + 300_000);
 * expect(client.isEntitled('app')).toBe(false);
 * ```
 */
export class ManualClock implements Clock {
  #mono = 0;
  #wallBase: number;
  #nextId = 1;
  readonly #timers = new Map<number, PendingTimer>();
  /** Every timer ever set on this clock, in order. */
  readonly scheduled: ScheduledTimer[] = [];

  /** @param start wall-clock time to start at, epoch ms (default 2026-01-01T00:00:00Z). */
  constructor(start = Date.UTC(2026, 0, 1)) {
    if (!Number.isFinite(start)) throw new TypeError('start must be epoch milliseconds');
    this.#wallBase = start;
  }

  now(): number {
    return this.#wallBase + this.#mono;
  }

  monotonic(): number {
    return this.#mono;
  }

  setTimer(callback: () => void, ms: number, background = false): () => void {
    const delayMs = Math.max(0, Number.isFinite(ms) ? ms : 0);
    const id = this.#nextId++;
    this.#timers.set(id, { id, due: this.#mono + delayMs, callback });
    this.scheduled.push({ delayMs, background });
    return () => {
      this.#timers.delete(id);
    };
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves the wall clock alone by `ms` (negative: back); no timer fires. */
  jumpWall(ms: number): void {
    if (!Number.isFinite(ms)) throw new TypeError('ms must be a finite number');
    this.#wallBase += ms;
  }

  /** Moves both clocks forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError('ms must be a non-negative number');
    const target = this.#mono + ms;
    for (let fired = 0; ; fired++) {
      if (fired >= MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`more than ${MAX_TIMERS_PER_ADVANCE} timers fell due in one advance: a timer loop?`);
      }
      await settle();
      const next = this.#earliest();
      if (!next || next.due > target) break;
      this.#timers.delete(next.id);
      this.#mono = Math.max(this.#mono, next.due);
      next.callback();
    }
    this.#mono = target;
    await settle();
  }

  /**
   * Fires timers one after the other until `promise` settles, and returns its result: for a call that
   * waits on backoff or a timeout. Throws if nothing is left to fire or `maxMs` would pass.
   */
  async run<T>(promise: Promise<T>, maxMs = 86_400_000): Promise<T> {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const deadline = this.#mono + maxMs;
    await settle();
    for (let fired = 0; !settled; fired++) {
      const next = this.#earliest();
      if (!next) throw new Error('the promise waits on something this clock cannot fire');
      if (next.due > deadline || fired >= MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`the promise did not settle within ${maxMs} ms of clock time`);
      }
      await this.advance(Math.max(0, next.due - this.#mono));
    }
    return promise;
  }

  #earliest(): PendingTimer | undefined {
    let earliest: PendingTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (!earliest || timer.due < earliest.due || (timer.due === earliest.due && timer.id < earliest.id)) {
        earliest = timer;
      }
    }
    return earliest;
  }
}

const nextTurn: (resolve: () => void) => void =
  typeof setImmediate === 'function'
    ? (resolve) => setImmediate(resolve)
    : (resolve) => setTimeout(resolve, 0);

/** A few turns of the real event loop: enough for promises that wait on no real I/O to settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise<void>(nextTurn);
}
