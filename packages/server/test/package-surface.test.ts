import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEASEHOLD_BIN } from '@leasehold/server/internal';
import { afterAll, describe, expect, it } from 'vitest';

const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports: Record<string, unknown>;
};

// A module resolve hook (node:module `register`) that behaves as if @leasehold/devtools were not
// installed, as in a production install of the server (`npm install --omit=dev`).
const WITHOUT_DEVTOOLS_HOOK = `export async function resolve(specifier, context, next) {
  if (specifier === '@leasehold/devtools' || specifier.startsWith('@leasehold/devtools/')) {
    const err = new Error("Cannot find package '@leasehold/devtools' imported from " + context.parentURL);
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
const WITHOUT_DEVTOOLS = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register(${JSON.stringify(
    `data:text/javascript,${encodeURIComponent(WITHOUT_DEVTOOLS_HOOK)}`,
  )});`,
)}`;

const withoutDevtools = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', WITHOUT_DEVTOOLS, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: join(LEASEHOLD_BIN, '..', '..'),
  });

/**
 * The server's package boundary (issue 10): a production install needs no test harness, and the public
 * entry holds the embedding API only; test seams live in `@leasehold/server/internal`.
 */
// Each case spawns Node on the built package (1.5-3 s to start on this 2-core machine).
describe('@leasehold/server as a package', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-surface-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('declares the PKI as a dependency and the etcd harness only for development', () => {
    expect(PACKAGE.dependencies).toHaveProperty('@leasehold/pki');
    expect(PACKAGE.dependencies).not.toHaveProperty('@leasehold/devtools');
    expect(PACKAGE.devDependencies).toHaveProperty('@leasehold/devtools');
    expect(Object.keys(PACKAGE.exports).sort()).toEqual(['.', './internal']);
  });

  it('exports the embedding API and nothing else from its public entry', async () => {
    const publicApi = await import('@leasehold/server');
    expect(Object.keys(publicApi).sort()).toEqual([
      'ConfigError',
      'NodeConfigSchema',
      'VERSION',
      'loadConfig',
      'startNode',
    ]);
    const internal = await import('@leasehold/server/internal');
    for (const seam of ['LatencyWindow', 'LeaderTracker', 'LEASEHOLD_BIN']) {
      expect(publicApi).not.toHaveProperty(seam);
      expect(internal).toHaveProperty(seam);
    }
    // The dev tooling lives in the kit, not in the server at all.
    const kit = await import('@leasehold/devtools');
    for (const tool of ['DevCluster', 'NodeProcess']) {
      expect(publicApi).not.toHaveProperty(tool);
      expect(internal).not.toHaveProperty(tool);
      expect(kit).toHaveProperty(tool);
    }
  });

  it('loads the public entry and runs `leasehold certs` without @leasehold/devtools installed', () => {
    const entry = withoutDevtools(
      '--input-type=module',
      '-e',
      "const s = await import('@leasehold/server'); console.log(typeof s.startNode);",
    );
    expect(entry.stderr).toBe('');
    expect(entry.stdout.trim()).toBe('function');
    // The hook does bite: the kit itself cannot be loaded under it.
    const kit = withoutDevtools('--input-type=module', '-e', "await import('@leasehold/devtools');");
    expect(kit.status).not.toBe(0);
    expect(kit.stderr).toContain("Cannot find package '@leasehold/devtools'");

    const certs = withoutDevtools(LEASEHOLD_BIN, 'certs', 'init', '--out', join(dir, 'pki'));
    expect(certs.status, certs.stderr).toBe(0);
    expect(certs.stdout).toContain(join(dir, 'pki', 'ca.crt'));
  });

  it('answers `leasehold dev cluster` without @leasehold/devtools with what to install', () => {
    const dev = withoutDevtools(LEASEHOLD_BIN, 'dev', 'cluster', '--data-dir', join(dir, 'dev'));
    expect(dev.status).toBe(1);
    expect(dev.stderr).toContain('needs the @leasehold/devtools package, which is not installed');
    expect(dev.stderr).toContain('npm install --save-dev @leasehold/devtools');
  });
});
