// How the programs that run inside a private namespace (partition/main.ts, ../soak/main.ts) log and end.
// Both are whole processes whose children die with them (parent-death signal), so ending the process is
// how they clean up when something hangs: a watchdog, and an exit code for each way the run can end.
import { now } from '../history.js';

/** A stderr logger whose lines read `[<tag> +12.3s] message`, seconds since it was made. */
export function elapsedLog(tag: string): (message: string) => void {
  const t0 = now();
  return (message) => process.stderr.write(`[${tag} +${((now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

export interface NamespacedMainOptions {
  readonly log: (message: string) => void;
  /** The whole run must end within this; then the process exits 3 (its children die by pdeathsig). */
  readonly watchdogMs: number;
  /** What the watchdog's log line says ran over. */
  readonly overrun: string;
}

/**
 * Runs `main` and ends the process: 0 when it resolves, 1 when it throws (the stack logged), 3 when the
 * watchdog fires first. The exit is explicit because open handles (sockets to killed children, timers)
 * would otherwise keep a finished run alive.
 */
export function runNamespacedMain(main: () => Promise<void>, options: NamespacedMainOptions): void {
  const watchdog = setTimeout(() => {
    options.log(`WATCHDOG: ${options.overrun}; exiting (children die by pdeathsig)`);
    process.exit(3);
  }, options.watchdogMs);
  watchdog.unref();
  main().then(
    () => {
      clearTimeout(watchdog);
      process.exit(0);
    },
    (err: unknown) => {
      options.log(`FAILED: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
