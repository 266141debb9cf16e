import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { reapAtExit } from './reaper.js';

let pdeathsig: Promise<boolean> | undefined;

/**
 * Whether util-linux `setpriv --pdeathsig` works here. With it, the kernel SIGKILLs an etcd member when the
 * Node process that started it dies in any way, including SIGKILL, which no exit hook can catch.
 * setpriv execs etcd, so the child's pid is etcd's own and SIGSTOP/SIGKILL reach etcd directly.
 */
function hasPdeathsig(): Promise<boolean> {
  pdeathsig ??= new Promise((resolve) => {
    execFile('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }, (error) => resolve(!error));
  });
  return pdeathsig;
}

export interface SpawnEtcdOptions {
  readonly bin: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** etcd's stdout and stderr (where its zap logger writes) are appended here, never to ours. */
  readonly logFile: string;
}

/** Starts one etcd process, tied to this process's lifetime. */
export async function spawnEtcd(options: SpawnEtcdOptions): Promise<ChildProcess> {
  const [command, args] = (await hasPdeathsig())
    ? ['setpriv', ['--pdeathsig', 'KILL', '--', options.bin, ...options.args]]
    : [options.bin, [...options.args]];
  const fd = openSync(options.logFile, 'a');
  try {
    writeSync(
      fd,
      `--- ${new Date().toISOString()} leasehold devtools: ${options.bin} ${options.args.join(' ')}\n`,
    );
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: false, env: options.env });
    reapAtExit(child);
    return child;
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}
