import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { leaseholdBin, spawnNode } from '@leasehold/devtools';
import { afterAll, describe, expect, it } from 'vitest';

// SIGTERM drains: /readyz answers 503 NODE_SHUTTING_DOWN at once while the node still serves everything
// else, for LEASEHOLD_DRAIN_DELAY_MS; then the node stops by itself (exit 0).
const dir = mkdtempSync(join(tmpdir(), 'lh-drain-'));
const dir2 = mkdtempSync(join(tmpdir(), 'lh-drain-cli-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(dir2, { recursive: true, force: true });
});
const admin = `lh_admin_${'d'.repeat(43)}`;

describe('drain on SIGTERM', () => {
  it('fails /readyz first, keeps serving during the drain delay, then exits 0', async () => {
    const node = await spawnNode({
      args: ['--port', '0', '--data-dir', dir],
      env: { LEASEHOLD_DRAIN_DELAY_MS: '1500' },
    });
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    const child = node.child;
    if (!child) throw new Error('the node has no process');
    const exited = once(child, 'exit');
    const sentAt = Date.now();
    child.kill('SIGTERM');

    // Within 500 ms of the signal: not ready, coded; still alive.
    let ready: Response | undefined;
    for (let i = 0; i < 10 && ready?.status !== 503; i++) {
      ready = await fetch(`${node.url}/readyz`);
      if (ready.status !== 503) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready?.status).toBe(503);
    expect(((await ready!.json()) as { code: string }).code).toBe('NODE_SHUTTING_DOWN');
    expect(Date.now() - sentAt).toBeLessThan(1000);
    const live = await fetch(`${node.url}/healthz`);
    expect(live.status).toBe(200);
    const jwks = await fetch(`${node.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);

    const [code] = (await exited) as [number | null];
    const tookMs = Date.now() - sentAt;
    expect(code).toBe(0);
    // It waited the drain delay, and not much longer.
    expect(tookMs).toBeGreaterThanOrEqual(1400);
    expect(tookMs).toBeLessThan(6000);
  });

  it('`leasehold drain` takes a running node out of /readyz without stopping it (admin only)', async () => {
    const node = await spawnNode({
      args: ['--port', '0', '--data-dir', dir2],
      env: { LEASEHOLD_ADMIN_TOKEN: admin },
    });
    try {
      const anonymous = await fetch(`${node.url}/v1/drain`, { method: 'POST' });
      expect(anonymous.status).toBe(401);
      expect((await fetch(`${node.url}/readyz`)).status).toBe(200);

      const { stdout } = await promisify(execFile)(
        process.execPath,
        [leaseholdBin(), 'drain', '--server', node.url, '--token', admin],
        { timeout: 15_000 },
      );
      expect(JSON.parse(stdout)).toMatchObject({ status: 'draining' });
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { code: string }).code).toBe('NODE_SHUTTING_DOWN');
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      expect(node.child?.exitCode).toBeNull();
    } finally {
      await node.kill('SIGTERM');
    }
  });
});
