import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { leaseholdBin } from '@leasehold/devtools';

/** `leasehold dev cluster …` as a developer runs it, from a test. */
export interface DevClusterCli {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Waits (at most 60 s, polling every 100 ms) for its "Ctrl-C stops everything" banner, or its exit. */
  started(): Promise<string>;
  /** SIGTERM unless it already exited, then waits for the exit. */
  stop(): Promise<void>;
}

export function spawnDevClusterCli(args: readonly string[]): DevClusterCli {
  const child = spawn(process.execPath, [leaseholdBin(), 'dev', 'cluster', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  // Listened for from the start: a child that already exited (a failed start) emits no second 'exit'.
  const exited = once(child, 'exit');
  return {
    child,
    output: () => output,
    async started() {
      const deadline = Date.now() + 60_000;
      while (
        !output.includes('Ctrl-C stops everything') &&
        Date.now() < deadline &&
        child.exitCode === null
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return output;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
