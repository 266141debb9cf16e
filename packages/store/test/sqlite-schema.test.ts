import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseholdError } from '@leasehold/domain';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '@leasehold/store';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/sqlite/schema.js';
import { LICENSE_KEYS } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-schema-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kek = randomBytes(32);

/** A data file as release `version` left it: its migrations only, and its user_version. */
function fileAt(version: number, fill?: (db: Database.Database) => void): string {
  const path = join(dir, `store-${++n}.db`);
  const db = new Database(path);
  for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
  fill?.(db);
  db.pragma(`user_version = ${version}`);
  db.close();
  return path;
}

const userVersion = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
};

describe('SQLite store schema version', () => {
  it('a file of the previous release is migrated on open, keeping its rows', async () => {
    const path = fileAt(SQLITE_SCHEMA_VERSION - 1, (db) => {
      db.prepare(
        `INSERT INTO api_tokens (id, hash, scope, license_id, name, created_at, revoked_at)
         VALUES ('tok-1', ?, 'admin', NULL, 'kept', 1, NULL)`,
      ).run('b'.repeat(64));
    });
    const store = new SqliteStore({ path, kek, licenseKeys: LICENSE_KEYS });
    try {
      expect((await store.listTokens()).map((t) => t.name)).toEqual(['kept']);
    } finally {
      await store.close();
    }
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
  });

  it('a file of a newer release is refused with STORE_SCHEMA_TOO_NEW naming both versions, untouched', () => {
    const path = fileAt(SQLITE_SCHEMA_VERSION);
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    let err: LeaseholdError | undefined;
    try {
      new SqliteStore({ path, kek, licenseKeys: LICENSE_KEYS });
    } catch (caught) {
      err = caught as LeaseholdError;
    }
    expect(err?.code).toBe('STORE_SCHEMA_TOO_NEW');
    expect(err?.message).toContain(`schema version ${SQLITE_SCHEMA_VERSION + 1}`);
    expect(err?.message).toContain(`newer than version ${SQLITE_SCHEMA_VERSION}`);
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION + 1);
  });
});
