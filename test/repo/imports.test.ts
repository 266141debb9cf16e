import { describe, expect, it } from 'vitest';
import { type ImportSite, importSites, inside, packageOf, target } from './import-scan.js';

/**
 * Package boundaries, checked on every import of every file (src, tests, benches, scripts):
 * - no relative import leaves its package (`../../../server/test/…`): reach another package through its
 *   name and public exports, or move the shared code into a package both depend on (devtools is the kit);
 * - no import of a `dist/` file: a package's build output is reached through its `exports` (a package's
 *   own committed `bin/` starting its `dist/` excepted);
 * - every bare import is declared in the owning package.json (node builtins excepted): shipped code
 *   (`src/`, `bin/`) in dependencies or peer/optional dependencies, tests and benches in any of those or
 *   devDependencies. Root-level files answer to the root package.json, whose workspaces count as declared.
 * Each failure lists every offender as `file: import`.
 */
const sites = importSites();
const show = (list: readonly ImportSite[]) => list.map((s) => `${s.file}: ${s.specifier}`);

describe('imports', () => {
  it('finds the import graph (the scan itself works)', () => {
    expect(sites.length).toBeGreaterThan(500);
    expect(sites.some((s) => s.file === 'bench/ha.mjs' && s.specifier === 'autocannon')).toBe(true);
    expect(sites.some((s) => s.shipped && s.specifier === 'fastify')).toBe(true);
  });

  it('no relative import reaches into another package', () => {
    const offenders = sites.filter(
      (s) => packageOf(s.specifier) === undefined && s.specifier.startsWith('.'),
    );
    expect(show(offenders.filter((s) => !inside(target(s), s.owner)))).toEqual([]);
  });

  it('no import of a dist/ file', () => {
    // The one exception: a package's committed bin (`bin/leasehold.js`) starts its own build output.
    const ownBin = (s: ImportSite) =>
      s.shipped && s.file.startsWith(`${s.owner.dir}/bin/`) && inside(target(s), s.owner);
    expect(show(sites.filter((s) => /(^|\/)dist(\/|$)/.test(s.specifier) && !ownBin(s)))).toEqual([]);
  });

  it('every bare import is declared in the package.json that owns the file', () => {
    const undeclared = sites.filter((s) => {
      const name = packageOf(s.specifier);
      if (name === undefined || name === s.owner.name) return false;
      return !(s.shipped ? s.owner.runtime : s.owner.any).has(name);
    });
    expect(show(undeclared)).toEqual([]);
  });
});
