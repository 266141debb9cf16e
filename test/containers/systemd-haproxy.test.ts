import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingTools, repoRoot, sh } from './podman.js';

// Static checks of the on-premise pieces: systemd units (systemd is not PID 1 here, so they are
// verified, not started) and the HAProxy configuration.
const unitDir = join(repoRoot, 'deploy/systemd');
const scratch = mkdtempSync(join(tmpdir(), 'lh-units-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `systemd-analyze verify` exits 0 on unknown keys and typos: any output at all is a failure. */
async function verify(unitPath: string): Promise<string> {
  const { stdout, stderr } = await sh('systemd-analyze', ['verify', unitPath], { env: process.env });
  return `${stdout}${stderr}`;
}

describe('systemd units', () => {
  it('has the tools', () => {
    expect(missingTools(['systemd-analyze', 'haproxy'])).toEqual([]);
  });

  it('leasehold.service verifies without a word', async () => {
    expect(await verify(join(unitDir, 'leasehold.service'))).toBe('');
  });

  it('leasehold.service has an exposure of at most 3.0 (systemd-analyze security --offline)', async () => {
    const { stdout } = await sh(
      'systemd-analyze',
      ['security', '--offline=true', '--threshold=30', join(unitDir, 'leasehold.service')],
      { env: process.env },
    );
    const exposure = Number(/Overall exposure level for leasehold\.service: ([\d.]+)/.exec(stdout)?.[1]);
    expect(exposure).toBeGreaterThan(0);
    expect(exposure).toBeLessThanOrEqual(3.0);
  });

  it('etcd-member.service verifies without a word (with the test etcd 3.5 standing in for /usr/local/bin/etcd)', async () => {
    // verify checks that ExecStart's binary exists; this machine has etcd 3.5 only in the project cache
    // (scripts/fetch-etcd.sh). Only that one path is swapped in a copy of the unit.
    const unit = readFileSync(join(unitDir, 'etcd-member.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/etcd$/m);
    const etcd = join(repoRoot, '.cache/etcd/root/usr/bin/etcd');
    copyFileSync(etcd, join(scratch, 'etcd'));
    const copy = join(scratch, 'etcd-member.service');
    writeFileSync(copy, unit.replace(/^ExecStart=.*$/m, `ExecStart=${join(scratch, 'etcd')}`));
    expect(await verify(copy)).toBe('');
    const { stdout } = await sh('systemd-analyze', ['security', '--offline=true', '--threshold=30', copy], {
      env: process.env,
    });
    expect(Number(/Overall exposure level for .*: ([\d.]+)/.exec(stdout)?.[1])).toBeLessThanOrEqual(3.0);
  });
});

describe('haproxy.cfg', () => {
  it('passes `haproxy -c`', async () => {
    // Compose service names do not resolve outside compose: init-addr none lets the check pass anyway.
    const { stdout, stderr } = await sh(
      'haproxy',
      ['-c', '-f', join(repoRoot, 'deploy/haproxy/haproxy.cfg')],
      {
        env: process.env,
      },
    );
    expect(`${stdout}${stderr}`).toContain('Configuration file is valid');
  });

  it('health-checks every server on /readyz with the documented fall/rise', () => {
    const cfg = readFileSync(join(repoRoot, 'deploy/haproxy/haproxy.cfg'), 'utf8');
    expect(cfg).toMatch(/http-check send meth GET uri \/readyz/);
    expect(cfg).toMatch(/default-server inter 500ms .*fall 2 rise 3/);
    const servers = cfg.match(/^\s*server \S+ \S+ check/gm) ?? [];
    expect(servers).toHaveLength(3);
  });
});
