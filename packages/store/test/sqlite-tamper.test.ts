import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { LICENSE_KEYS, T0 } from './contract/fixtures.js';
import { describeTamperContract, type TamperEdit } from './contract/tamper-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-tamper-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The edits as SQL on the data file, as anyone who can write `data/leasehold.db` can make them. */
const SQL: Record<TamperEdit, string> = {
  seats: "UPDATE entitlements SET seats = 1000 WHERE license_id = @id AND feature = 'solver'",
  expiry: 'UPDATE licenses SET expires_at = expires_at + 3650 * 86400000 WHERE id = @id',
  feature: "INSERT INTO entitlements (license_id, feature, seats) VALUES (@id, 'extra', 50)",
  policy: 'UPDATE licenses SET lease_ttl_ms = 86400000 WHERE id = @id',
};

describeTamperContract('sqlite', async () => {
  const path = join(dir, `tamper-${++n}.db`);
  const kek = randomBytes(32);
  return {
    async open(keys = LICENSE_KEYS) {
      return new SqliteStore({ path, kek, licenseKeys: keys, now: () => T0 + 5 });
    },
    async edit(id, edit) {
      const db = new Database(path);
      try {
        db.prepare(SQL[edit]).run({ id });
        db.exec("UPDATE meta SET value = value + 1 WHERE key = 'license_revision'");
      } finally {
        db.close();
      }
    },
  };
});
