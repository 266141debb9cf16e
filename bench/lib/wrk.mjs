// Runs Debian's `wrk` (a C load generator) and reads the one-line summary its Lua scripts print
// (bench/wrk/summary.lua). wrk rather than autocannon wherever a Lua script can build the requests: on a
// 2-core machine autocannon (JavaScript) takes about a core for itself, wrk a small part of one, so the
// server under test keeps the CPU and the figures describe the server, not the load generator.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WRK = process.env.BENCH_WRK ?? 'wrk';
const SCRIPTS = fileURLToPath(new URL('../wrk/', import.meta.url));

/** Stops the benchmark at once, naming the package, when wrk is not installed. Returns its version. */
export function requireWrk() {
  try {
    // `wrk -v` prints its banner and exits 1; only a missing binary throws ENOENT.
    execFileSync(WRK, ['-v'], { stdio: 'pipe' });
  } catch (err) {
    if (err.code === 'ENOENT') {
      process.stderr.write(
        `bench: the load generator \`wrk\` is not installed (looked for "${WRK}").\n` +
          '  Install it with:  sudo apt-get install wrk   (Debian/Ubuntu; or set BENCH_WRK to its path)\n',
      );
      process.exit(1);
    }
    const banner = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    return /wrk\s+(\S+)/.exec(banner)?.[1] ?? 'unknown';
  }
  return 'unknown';
}

/**
 * One closed-loop wrk run: `connections` connections over `threads` threads for `duration` seconds.
 * `script` names a file in bench/wrk/, `args` go to its init(). Success = complete responses minus
 * non-2xx/3xx ones (wrk's `errors.status`); the scripts make each request distinct, so a 2xx is the
 * expected success (201 for a checkout: a fresh requestId never replays as 200).
 */
export function runWrk({ url, script, args = [], duration, connections, threads = 2, timeoutS = 10 }) {
  const argv = [
    `-t${Math.min(threads, connections)}`,
    `-c${connections}`,
    `-d${duration}s`,
    `--timeout`,
    `${timeoutS}s`,
    '-s',
    join(SCRIPTS, script),
    url,
    ...(args.length > 0 ? ['--', ...args.map(String)] : []),
  ];
  return new Promise((resolveRun, reject) => {
    const child = spawn(WRK, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = /^WRK_JSON (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !line) {
        reject(new Error(`wrk ${argv.join(' ')} exited ${code}:\n${out}`));
        return;
      }
      const s = JSON.parse(line);
      const seconds = s.durationUs / 1e6;
      const socketErrors = s.errors.connect + s.errors.read + s.errors.write;
      // A script that counts its own successes (checkout-release.lua) says so; else every 2xx/3xx counts.
      const ok = s.counted >= 0 ? s.counted : s.requests - s.errors.status;
      resolveRun({
        rate: ok / seconds,
        ok,
        seconds,
        p50: s.latencyUs.p50 / 1000,
        p99: s.latencyUs.p99 / 1000,
        non2xx: s.errors.status,
        errors: socketErrors,
        timeouts: s.errors.timeout,
        released: Math.max(0, s.released),
      });
    });
  });
}
