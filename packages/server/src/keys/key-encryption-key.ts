import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LeaseholdError } from '@leasehold/domain';
import { KEK_BYTES, parseKek } from '@leasehold/store';

export const KEK_FILE = 'kek';

export interface KekSettings {
  /** base64 of 32 bytes (`LEASEHOLD_KEK`). */
  readonly kek?: string | undefined;
  /** A file holding the base64 KEK (`LEASEHOLD_KEK_FILE`, `--kek-file`). */
  readonly kekFile?: string | undefined;
  readonly store: 'sqlite' | 'etcd';
}

export interface ResolvedKek {
  readonly kek: Buffer;
  /** Where it came from, for the start-up log (never the key). */
  readonly source: string;
  /** True when this start generated `<dataDir>/kek`: the caller warns. */
  readonly generated: boolean;
}

/**
 * The key-encryption key the store's data key is wrapped under. Given (environment or file) wins. An
 * embedded node without one makes `<dataDir>/kek` (0600) at first start, so `npm start` stays one command
 * — but then the key sits beside the data it protects, which only helps against copies of the database
 * file alone; the caller warns. An etcd cluster needs one key shared by every node: no default there.
 */
export function resolveKek(settings: KekSettings, dataDir: string, random = randomBytes): ResolvedKek {
  if (settings.kek !== undefined) {
    return { kek: parseKek(settings.kek, 'LEASEHOLD_KEK'), source: 'LEASEHOLD_KEK', generated: false };
  }
  if (settings.kekFile !== undefined) return { ...readKekFile(settings.kekFile), generated: false };
  if (settings.store === 'etcd') {
    throw new LeaseholdError(
      'KEK_INVALID',
      'an etcd cluster needs a key-encryption key shared by every node: set LEASEHOLD_KEK or --kek-file ' +
        '(make one with "openssl rand -base64 32")',
    );
  }
  const path = join(dataDir, KEK_FILE);
  if (existsSync(path)) return { ...readKekFile(path), generated: false };
  const kek = random(KEK_BYTES);
  // `wx`: never overwrite a key another process made a moment ago; fsync before any data depends on it.
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${kek.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { kek, source: path, generated: true };
}

export function readKekFile(path: string): { kek: Buffer; source: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LeaseholdError('KEK_INVALID', `cannot read the key-encryption key file ${path}`, undefined, {
      cause: err,
    });
  }
  return { kek: parseKek(text, path), source: path };
}
