import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/leasehold.js', import.meta.url));

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `leasehold serve` as a real process and waits until it answers /readyz. `fetchReady` is how to
 * ask (a TLS node needs one that trusts its CA and presents a certificate).
 */
export async function spawnNode(
  args: string[],
  env: Record<string, string> = {},
  fetchReady: (url: string) => Promise<Response> = (url) => fetch(url),
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    url ??= /listening on (https?:\/\/\S+)/.exec(output)?.[1];
    if (
      url &&
      (await fetchReady(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!url || child.exitCode !== null) {
    child.kill('SIGKILL');
    throw new Error(`node did not start:\n${output}`);
  }
  return {
    child,
    url,
    output: () => output,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}
