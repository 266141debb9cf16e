import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseholdBin } from '@leasehold/devtools';
import { afterAll, describe, expect, it } from 'vitest';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [leaseholdBin(), ...args], { encoding: 'utf8', timeout: 20_000 });

/** `leasehold certs init|issue` as a user runs it, cross-checked with OpenSSL (Debian `openssl`). */
// Each case spawns the CLI (1.5-3 s to start on this 2-core machine, more while other tests run).
describe('leasehold certs', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-certs-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pki = join(dir, 'pki');

  it('init makes a CA with a 0600 key, and will not overwrite it', () => {
    const first = cli('certs', 'init', '--out', pki, '--days', '30');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(join(pki, 'ca.crt'));
    expect(statSync(join(pki, 'ca.key')).mode & 0o777).toBe(0o600);
    const again = cli('certs', 'init', '--out', pki);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('EEXIST');
  });

  it('issue makes node and client certificates that chain to the CA, for their purposes', () => {
    const node = cli(
      'certs',
      'issue',
      '--ca',
      pki,
      '--name',
      'node-1',
      '--san',
      '127.0.0.1,localhost',
      '--kind',
      'peer',
    );
    expect(node.status, node.stderr).toBe(0);
    const client = cli(
      'certs',
      'issue',
      '--ca',
      pki,
      '--name',
      'ops',
      '--kind',
      'client',
      '--days',
      '7',
      '--out',
      join(dir, 'ops'),
    );
    expect(client.status, client.stderr).toBe(0);
    expect(statSync(join(pki, 'node-1.key')).mode & 0o777).toBe(0o600);
    const verify = (purpose: string, cert: string) =>
      execFileSync('openssl', ['verify', '-CAfile', join(pki, 'ca.crt'), '-purpose', purpose, cert], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    expect(verify('sslserver', join(pki, 'node-1.crt'))).toContain('OK');
    expect(verify('sslclient', join(pki, 'node-1.crt'))).toContain('OK');
    expect(verify('sslclient', join(dir, 'ops', 'ops.crt'))).toContain('OK');
    expect(() => verify('sslserver', join(dir, 'ops', 'ops.crt'))).toThrow();
  });

  it('refuses bad input with a message naming it', () => {
    const kind = cli('certs', 'issue', '--ca', pki, '--name', 'x', '--san', '127.0.0.1', '--kind', 'admin');
    expect(kind.status).not.toBe(0);
    expect(kind.stderr).toContain("--kind must be server, client or peer, got 'admin'");
    const noSan = cli('certs', 'issue', '--ca', pki, '--name', 'x', '--kind', 'server');
    expect(noSan.status).not.toBe(0);
    expect(noSan.stderr).toContain('needs --san');
    const days = cli('certs', 'issue', '--ca', pki, '--name', 'x', '--kind', 'client', '--days', '0');
    expect(days.status).not.toBe(0);
    expect(days.stderr).toContain('--days must be');
  });
});
