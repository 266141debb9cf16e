import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * The import graph of the repository as the rules in `imports.test.ts` see it: every module specifier of
 * every source, test, bench and script file, with the package that owns the file. Specifiers come from
 * TypeScript's own pre-processor (static imports, re-exports, `import()` and `require()` with literal
 * arguments), so an import in a comment or doc example is not one.
 */

export const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE = /\.(c|m)?(t|j)sx?$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.cache', '.git', 'test-artifacts', 'data']);

export interface PackageManifest {
  /** The directory, relative to the root ('' for the root package). */
  readonly dir: string;
  readonly name: string;
  /** What its shipped code may import: dependencies, peer and optional dependencies. */
  readonly runtime: ReadonlySet<string>;
  /** All of those and its devDependencies (and for the root, its workspaces), for tests, benches, scripts. */
  readonly any: ReadonlySet<string>;
}

export interface ImportSite {
  /** The importing file, relative to the root. */
  readonly file: string;
  readonly specifier: string;
  readonly owner: PackageManifest;
  /** The file ships to users (a package's `src/` or `bin/`), so only runtime dependencies count. */
  readonly shipped: boolean;
}

function readManifest(dir: string, workspaces: readonly string[] = []): PackageManifest {
  const json = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const names = (field: string) => Object.keys((json[field] as Record<string, string> | undefined) ?? {});
  const runtime = new Set([
    ...names('dependencies'),
    ...names('peerDependencies'),
    ...names('optionalDependencies'),
  ]);
  return {
    dir,
    name: String(json.name),
    runtime,
    any: new Set([...runtime, ...names('devDependencies'), ...workspaces]),
  };
}

/** The root manifest (whose `workspaces` declare the workspace packages for root-level files) and each package's. */
export function manifests(): { root: PackageManifest; packages: PackageManifest[] } {
  const rootJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  const packages = rootJson.workspaces.map((dir) => readManifest(dir));
  return {
    root: readManifest(
      '',
      packages.map((p) => p.name),
    ),
    packages,
  };
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) yield* walk(join(dir, entry.name));
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield join(dir, entry.name);
    }
  }
}

/** Every import site in the repository, owned by the nearest workspace package or else the root. */
export function importSites(): ImportSite[] {
  const { root, packages } = manifests();
  const sites: ImportSite[] = [];
  for (const path of walk(ROOT)) {
    const file = relative(ROOT, path);
    const owner = packages.find((p) => file.startsWith(`${p.dir}/`)) ?? root;
    const inPackage = owner === root ? file : file.slice(owner.dir.length + 1);
    const shipped = owner !== root && (inPackage.startsWith('src/') || inPackage.startsWith('bin/'));
    const { importedFiles } = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
    for (const { fileName } of importedFiles) sites.push({ file, specifier: fileName, owner, shipped });
  }
  return sites;
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names (`@scope/name` or `name`), or undefined for a relative one or a builtin. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  if (specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0] ?? '')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** For a relative specifier: the root-relative path it points to. */
export function target(site: ImportSite): string {
  return relative(ROOT, resolve(ROOT, dirname(site.file), site.specifier));
}

/** Whether a root-relative path lies inside `dir` ('' is the root package: anything outside `packages/`). */
export function inside(path: string, owner: PackageManifest): boolean {
  if (owner.dir === '') return !path.startsWith(`packages${sep}`) && !path.startsWith('..');
  return path.startsWith(`${owner.dir}${sep}`);
}
