import type { ChildProcess } from 'node:child_process';

// Every etcd child still alive, SIGKILLed when this process exits so that a test runner that finishes,
// or calls process.exit(), never leaves members behind. A parent that is itself SIGKILLed runs no hook;
// spawn-etcd.ts covers that case with a parent-death signal.
const live = new Set<ChildProcess>();
let hooked = false;

/** Keeps `child` on the list of processes to SIGKILL at exit until it exits by itself. */
export function reapAtExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}
