import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DevtoolsError } from '../errors.js';

/**
 * The path of the `leasehold` executable of the installed `@leasehold/server`, found by module
 * resolution (its entry point, the package.json above it, then its `bin` field; the package exports no
 * `./package.json`) rather than by importing it: devtools must not
 * depend on the server's code, which would make a build cycle (the server loads devtools for
 * `leasehold dev cluster`). Throws `SERVER_NOT_FOUND` naming the package when it is not installed.
 */
export function leaseholdBin(): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('@leasehold/server');
  } catch (err) {
    throw new DevtoolsError(
      'SERVER_NOT_FOUND',
      'cannot spawn a Leasehold node: @leasehold/server is not installed (npm install @leasehold/server) or not built (npx tsc -b)',
      { cause: err },
    );
  }
  const manifest = packageJsonAbove(entry);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const relative = typeof bin === 'string' ? bin : bin?.leasehold;
  if (!relative) throw new DevtoolsError('SERVER_NOT_FOUND', `${manifest} declares no \`leasehold\` bin`);
  return join(dirname(manifest), relative);
}

/** The nearest package.json at or above `file`'s directory: the manifest of the package `file` is in. */
function packageJsonAbove(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new DevtoolsError('SERVER_NOT_FOUND', `no package.json above ${file}`);
  }
}
