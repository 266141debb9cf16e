import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The newcomer test: the README's quickstart and walkthrough work as written. The walkthrough block runs
 * in bash in a scratch directory that has the repository's package.json and node_modules (what a fresh
 * clone has after `npm ci`); only the port is changed, to a free one.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** SIGTERM to a process group, then wait (bounded) until none of it is left; SIGKILL what outlives 10 s. */
async function stopGroup(pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone in between
    }
  };
  if (!alive()) return;
  signal('SIGTERM');
  for (let waited = 0; alive() && waited < 10_000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (alive()) signal('SIGKILL');
}

describe('README', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-readme-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));

  it('gives the two commands: npm ci && npm start, and npm test', () => {
    expect(readme).toMatch(/^npm ci && npm start\b/m);
    expect(readme).toMatch(/^npm test\b/m);
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('leasehold serve');
  });

  it('walkthrough: keys → license → start → install → checkout → renew → checkin', async () => {
    const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(
      readme,
    )?.[1];
    expect(block).toBeTruthy();
    const port = await freePort();
    const script = `set -euo pipefail\n${(block ?? '').replaceAll('7300', String(port))}`;
    writeFileSync(join(dir, 'walkthrough.sh'), script);
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));

    const child = spawn('bash', ['walkthrough.sh'], {
      cwd: dir,
      detached: true,
      env: {
        ...process.env,
        LEASEHOLD_PORT: String(port),
        LEASEHOLD_SERVER: `http://127.0.0.1:${port}`,
        LEASEHOLD_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(-1), 60_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    // The node started in the background is in the script's process group. Wait for the group to be
    // gone: a node still shutting down writes into data/ (its clock mark) while afterAll removes it,
    // which failed one CI run with ENOTEMPTY.
    await stopGroup(child.pid ?? 0);
    expect(code, output).toBe(0);
    expect(output).toContain('Admin token (shown once');
    expect(output).toContain('"outcome": "installed"');
    expect(output).toMatch(/"state":"released"/);
    // `license list` prints a table by default (issue 13, item 8): the license, its seats in use.
    expect(output).toMatch(/LICENSE\s+VERSION\s+CUSTOMER/);
    expect(output).toMatch(/solver 0\/10/);
    expect(statSync(join(dir, 'data', 'admin.token')).mode & 0o777).toBe(0o600);
  }, 90_000);
});
