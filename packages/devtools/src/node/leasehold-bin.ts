import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DevtoolsError } from '../errors.js';

/**
 * The path of the `leasehold` executable of the installed `@leasehold/server`, found by module
 * resolution (its package.json, then its `bin` field) rather than by importing it: devtools must not
 * depend on the server's code, which would make a build cycle (the server loads devtools for
 * `leasehold dev cluster`). Throws `SERVER_NOT_FOUND` naming the package when it is not installed.
 */
export function leaseholdBin(): string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve('@leasehold/server/package.json');
  } catch (err) {
    throw new DevtoolsError(
      'SERVER_NOT_FOUND',
      'cannot spawn a Leasehold node: @leasehold/server is not installed (npm install @leasehold/server)',
      { cause: err },
    );
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const relative = typeof bin === 'string' ? bin : bin?.leasehold;
  if (!relative) throw new DevtoolsError('SERVER_NOT_FOUND', `${manifest} declares no \`leasehold\` bin`);
  return join(dirname(manifest), relative);
}
