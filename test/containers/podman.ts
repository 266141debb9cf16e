import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Podman reads this instead of /etc/containers: runc, and ulimits this sandbox allows. */
export const podmanEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CONTAINERS_CONF: fileURLToPath(new URL('./containers.conf', import.meta.url)),
};

/** The Debian packages the container tests need, by the command each provides. */
export const REQUIRED_TOOLS: Readonly<Record<string, string>> = {
  podman: 'podman (with runc and catatonit)',
  runc: 'runc',
  'podman-compose': 'podman-compose',
  haproxy: 'haproxy',
  kubectl: 'kubectl >= 1.27 (pkgs.k8s.io; Debian 12 has only 1.20)',
  'systemd-analyze': 'systemd',
};

/** Commands from REQUIRED_TOOLS not found on PATH, named with their Debian package. */
export function missingTools(names: readonly string[]): string[] {
  const dirs = (process.env.PATH ?? '').split(':');
  return names
    .filter((name) => !dirs.some((dir) => existsSync(`${dir}/${name}`)))
    .map((name) => REQUIRED_TOOLS[name] ?? name);
}

/** Runs a command (podman by default env), bounded in time; resolves with its output or rejects. */
export async function sh(
  file: string,
  args: readonly string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return run(file, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? podmanEnv,
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

export const podman = (args: readonly string[], timeoutMs?: number) =>
  sh('podman', args, timeoutMs === undefined ? {} : { timeoutMs });

/** Polls url until it answers 2xx or the deadline passes; returns the last status (0: no answer). */
export async function waitForOk(url: string, deadlineMs: number): Promise<number> {
  const end = Date.now() + deadlineMs;
  let status = 0;
  while (Date.now() < end) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      status = res.status;
      await res.body?.cancel();
      if (res.ok) return status;
    } catch {
      status = 0;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return status;
}
