import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs `bin --version` and returns the server version (`3.5.16`). Throws when the binary does not run or
 * does not print an etcd version.
 */
export async function etcdVersion(bin: string): Promise<string> {
  const { stdout } = await run(bin, ['--version'], { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } });
  const match = /^etcd Version: (\d+\.\d+\.\d+)/m.exec(stdout);
  if (!match?.[1]) throw new Error(`'${bin} --version' printed no etcd version: ${stdout.slice(0, 200)}`);
  return match[1];
}

/** Whether `version` is an etcd 3.5 release, the line Leasehold is tested against. */
export function isEtcd35(version: string): boolean {
  return version.startsWith('3.5.');
}
