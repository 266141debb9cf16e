import { constants, readFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevtoolsError } from '../errors.js';
import { canAccess } from '../lib/can-access.js';
import { etcdVersion, isEtcd35 } from './etcd-version.js';

/** Where {@link locateEtcd} found the binary. */
export type EtcdBinarySource = 'env' | 'cache' | 'path';

/** An etcd server binary that runs, with the version it reports. */
export interface EtcdBinary {
  /** Absolute path of the `etcd` executable. */
  readonly bin: string;
  /** The server version it reports, e.g. `3.5.16`. */
  readonly version: string;
  readonly source: EtcdBinarySource;
}

export interface LocateEtcdOptions {
  /** Environment to read `LEASEHOLD_ETCD_BIN` and `PATH` from; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Repository root holding `.cache/etcd`; found by walking up from this module when omitted. */
  readonly repoRoot?: string;
  /** Receives warnings (binary from PATH, version other than 3.5); defaults to `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

/** Where `scripts/fetch-etcd.sh` unpacks Debian trixie's etcd-server, relative to the repository root. */
export const CACHED_ETCD_PATH = '.cache/etcd/root/usr/bin/etcd';

const FETCH_HINT = 'Run scripts/fetch-etcd.sh at the repository root to fetch etcd 3.5 from Debian trixie';

/**
 * Finds the etcd server binary for tests and the developer cluster, in this order:
 * 1. `LEASEHOLD_ETCD_BIN`, when set (it must run);
 * 2. `<repo>/.cache/etcd/root/usr/bin/etcd`, put there by `scripts/fetch-etcd.sh`;
 * 3. `etcd` on `PATH`, with a warning (Debian 12's is 3.4, end of life).
 *
 * Throws a {@link DevtoolsError} `ETCD_NOT_FOUND` that says to run `scripts/fetch-etcd.sh` when none runs.
 *
 * @example
 * ```ts
 * const { bin, version, source } = await locateEtcd();
 * console.log(`etcd ${version} from ${source}: ${bin}`);
 * ```
 */
export async function locateEtcd(options: LocateEtcdOptions = {}): Promise<EtcdBinary> {
  const env = options.env ?? process.env;
  const warn =
    options.onWarning ?? ((message: string) => process.emitWarning(message, 'LeaseholdEtcdWarning'));
  const checked = (binary: EtcdBinary): EtcdBinary => {
    if (!isEtcd35(binary.version)) {
      warn(`etcd at ${binary.bin} is ${binary.version}; Leasehold is tested against 3.5. ${FETCH_HINT}.`);
    }
    return binary;
  };

  const fromEnv = env.LEASEHOLD_ETCD_BIN;
  if (fromEnv) {
    try {
      return checked({ bin: fromEnv, version: await etcdVersion(fromEnv), source: 'env' });
    } catch (cause) {
      throw new DevtoolsError(
        'ETCD_NOT_FOUND',
        `LEASEHOLD_ETCD_BIN=${fromEnv} does not run as etcd (${String(cause)}). Fix or unset it; ${FETCH_HINT}.`,
        { cause },
      );
    }
  }

  const root = options.repoRoot ?? (await findRepoRoot(dirname(fileURLToPath(import.meta.url))));
  if (root !== undefined) {
    const cached = join(root, CACHED_ETCD_PATH);
    if (await canAccess(cached, constants.X_OK)) {
      try {
        return checked({ bin: cached, version: await etcdVersion(cached), source: 'cache' });
      } catch (cause) {
        warn(`${cached} does not run (${String(cause)}); looking for etcd on PATH. ${FETCH_HINT}.`);
      }
    }
  }

  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'etcd');
    if (!(await canAccess(candidate, constants.X_OK))) continue;
    try {
      const version = await etcdVersion(candidate);
      warn(`using etcd ${version} from PATH (${candidate}), not the project's cached 3.5. ${FETCH_HINT}.`);
      return { bin: candidate, version, source: 'path' };
    } catch {
      // Not a working etcd; keep looking.
    }
  }

  throw new DevtoolsError(
    'ETCD_NOT_FOUND',
    `no etcd binary found (looked at LEASEHOLD_ETCD_BIN, ${root === undefined ? 'the repository cache' : join(root, CACHED_ETCD_PATH)}, and PATH). ${FETCH_HINT}, or set LEASEHOLD_ETCD_BIN to an etcd 3.5 binary.`,
  );
}

/**
 * Walks up from `start` to the repository root: the first directory holding `.cache/etcd`, or the one whose
 * package.json is named `leasehold`.
 */
async function findRepoRoot(start: string): Promise<string | undefined> {
  for (let dir = start; ; dir = dirname(dir)) {
    if (await canAccess(join(dir, '.cache', 'etcd'))) return dir;
    if (await isRootPackage(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

async function isRootPackage(file: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { name?: unknown }).name === 'leasehold';
  } catch {
    return false;
  }
}
