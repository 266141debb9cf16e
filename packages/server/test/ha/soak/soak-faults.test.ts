import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FaketimeClocks } from './soak-faults.js';

/** The soak's clock steps: libfaketime's control file, read by a running process that preloads it. */
describe('FaketimeClocks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-faketime-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Date.now() in a child preloading libfaketime with `env`, minus ours around it. */
  const childOffset = (env: Record<string, string>, clocks: FaketimeClocks): number => {
    const before = Date.now();
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], {
      env: { ...process.env, ...env, LD_PRELOAD: clocks.library },
      encoding: 'utf8',
      timeout: 10_000,
    });
    const after = Date.now();
    expect(child.status, child.stderr).toBe(0);
    const theirs = Number(child.stdout);
    // The child read its clock somewhere between our two readings.
    return theirs < before ? theirs - before : theirs > after ? theirs - after : 0;
  };

  it('writes each node its own control file, true at first, and steps it by the offset', () => {
    const clocks = new FaketimeClocks(dir);
    const env = clocks.envByName(['node-1', 'node-2']);
    const file = env['node-1']?.FAKETIME_TIMESTAMP_FILE ?? '';
    expect(file).not.toBe(env['node-2']?.FAKETIME_TIMESTAMP_FILE);
    expect(readFileSync(file, 'utf8')).toBe('+0s\n');
    expect(childOffset(env['node-1'] ?? {}, clocks)).toBe(0);

    clocks.step('node-1', 2000);
    expect(readFileSync(file, 'utf8')).toBe('+2s\n');
    const ahead = childOffset(env['node-1'] ?? {}, clocks);
    expect(ahead).toBeGreaterThan(1500);
    expect(ahead).toBeLessThanOrEqual(2000);

    clocks.step('node-1', -2000);
    expect(readFileSync(file, 'utf8')).toBe('-2s\n');
    const behind = childOffset(env['node-1'] ?? {}, clocks);
    expect(behind).toBeLessThan(-1500);
    expect(behind).toBeGreaterThanOrEqual(-2000);
    // The other node's clock never moved.
    expect(childOffset(env['node-2'] ?? {}, clocks)).toBe(0);
  });
});
