import type { Clock } from './clock.js';

export interface PeriodicTaskOptions {
  /** Whose timers pace the task: the node's clock, or a `ManualClock` in tests. */
  readonly clock: Clock;
  /** Time between the starts of two ticks (as `setInterval`, not from the end of a run). */
  readonly intervalMs: number;
  /** The work of one run; a throw or rejection goes to `onError`. */
  readonly run: () => unknown;
  /** Receives every error of a run; the task goes on at the next tick. */
  readonly onError: (err: unknown) => void;
  /** Whether the timer lets the process exit (Node's `unref`); default true. */
  readonly background?: boolean;
}

/**
 * A background loop on a {@link Clock}: every `intervalMs` it runs its work, one run at a time. A tick
 * that comes while a run is still going is skipped (a slow store must not pile sweeps up behind each
 * other); `trigger()` asks for a run now — or, if one is going, for one more right after it, however many
 * times it is asked meanwhile. `stop()` cancels the timer and resolves once the run in progress ended,
 * so a closing node never leaves work behind. Errors never escape as unhandled rejections: they go to
 * `onError`.
 *
 * The sweeper, the audit keeper, the peer probe, the membership heartbeat, the dashboard's snapshots and
 * its token re-checks are all one of these, so a test drives any of them with a `ManualClock`.
 *
 * @example
 * ```ts
 * const sweeps = new PeriodicTask({
 *   clock,
 *   intervalMs: 1000,
 *   run: () => sweeper.sweepOnce(),
 *   onError: (err) => log.warn({ err }, 'sweep failed'),
 * });
 * sweeps.start();
 * sweeps.trigger(); // and once now
 * await sweeps.stop();
 * ```
 */
export class PeriodicTask {
  readonly #options: PeriodicTaskOptions;
  #cancelTimer: (() => void) | undefined;
  /** The runs in progress: one, and the follow-ups triggered while it ran. */
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: PeriodicTaskOptions) {
    if (!(options.intervalMs > 0))
      throw new RangeError('intervalMs must be a positive number of milliseconds');
    this.#options = options;
  }

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Resolves once the run in progress, if any, has ended (never rejects). For callers that step a manual
   * clock: a tick that comes while a run is still going is skipped, so they wait for this before the next.
   */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  /** Starts ticking (again, after a stop); the first tick is one interval from now. Idempotent. */
  start(): void {
    this.#stopped = false;
    if (!this.#cancelTimer) this.#arm();
  }

  /**
   * Runs now, or right after the run in progress; resolves when that run has ended (never rejects). Does
   * nothing after `stop()` until the next `start()`.
   */
  trigger(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    return this.#launch();
  }

  /** Cancels the timer and any follow-up run, and resolves when the run in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#again = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#running;
  }

  #arm(): void {
    const { clock, intervalMs, background = true } = this.#options;
    this.#cancelTimer = clock.setTimer(
      () => {
        // Re-armed before running, so ticks keep their pace whatever a run takes.
        this.#arm();
        if (!this.#running) void this.#launch();
      },
      intervalMs,
      background,
    );
  }

  #launch(): Promise<void> {
    // Marked running before the work starts: a run that triggers its own task (synchronously) gets a
    // follow-up, not a second run beside itself.
    let ended!: () => void;
    const running = new Promise<void>((resolve) => {
      ended = resolve;
    });
    this.#running = running;
    void this.#loop().then(() => {
      this.#running = undefined;
      ended();
    });
    return running;
  }

  /** Never rejects: every error of a run goes to onError. */
  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#runOnce();
    } while (this.#again && !this.#stopped);
  }

  async #runOnce(): Promise<void> {
    try {
      await this.#options.run();
    } catch (err) {
      try {
        this.#options.onError(err);
      } catch {
        // An error reporter that throws has nowhere left to report to; the loop must go on.
      }
    }
  }
}
