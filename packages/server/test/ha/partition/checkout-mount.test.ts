import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertRunnable, whyUnreachable } from './checkout-mount.js';

/**
 * How the partition scenario explains a path its per-process uids cannot reach (checkout-mount.ts): the
 * path and the reason, never node's "Cannot find module". Runs as root, like the partition tests.
 */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-reach-'));
chmodSync(dir, 0o755);
const closed = join(dir, 'closed');
mkdirSync(closed, { mode: 0o700 });
writeFileSync(join(closed, 'inside.js'), '');
const open = join(dir, 'open');
mkdirSync(open, { mode: 0o755 });
writeFileSync(join(open, 'secret.js'), 'x', { mode: 0o600 });
writeFileSync(join(open, 'plain.js'), 'x', { mode: 0o644 });
chmodSync(join(open, 'secret.js'), 0o600);
chmodSync(join(open, 'plain.js'), 0o644);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('whyUnreachable', () => {
  it('names the directory other users cannot enter, with its mode', () => {
    expect(whyUnreachable(join(closed, 'inside.js'), 'read')).toBe(
      `${closed} (mode 0700, owner ${process.getuid?.()}:${process.getgid?.()}) does not let other users enter it`,
    );
  });

  it('names a file other users cannot read or run', () => {
    expect(whyUnreachable(join(open, 'secret.js'), 'read')).toMatch(
      /secret\.js \(mode 0600, .*\) is not readable by other users$/,
    );
    expect(whyUnreachable(join(open, 'plain.js'), 'run')).toMatch(
      /plain\.js .* is not executable by other users$/,
    );
    expect(whyUnreachable(join(open, 'missing.js'), 'read')).toMatch(
      /missing\.js cannot be stat-ed \(ENOENT\)/,
    );
  });

  it('finds nothing wrong with a reachable file', () => {
    expect(whyUnreachable(join(open, 'plain.js'), 'read')).toBeUndefined();
  });
});

describe('assertRunnable', () => {
  it('passes when the uid can run the command', () => {
    expect(() => assertRunnable(47_021, 'cat', ['/bin/cat', join(open, 'plain.js')], [])).not.toThrow();
  });

  it('names the path the uid cannot reach, from the mode bits or from the error output', () => {
    const file = join(closed, 'inside.js');
    expect(() =>
      assertRunnable(47_021, 'a script', ['/bin/cat', file], [{ path: file, need: 'read' }]),
    ).toThrow(`uid 47021 cannot read ${file} (a script): ${closed} (mode 0700`);
    // Without the path listed, the command's own error names it, and the reason follows.
    expect(() => assertRunnable(47_021, 'cat', ['/bin/cat', file], [])).toThrow(
      new RegExp(
        `uid 47021 cannot run cat .*exited 1.*: ${closed} \\(mode 0700.*does not let other users enter it`,
      ),
    );
  });
});
