import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import { afterAll, describe, expect, it } from 'vitest';
import { LICENSE_KEYS, license, T0 } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-file-mode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mode = (file: string) => statSync(file).mode & 0o777;
const files = (path: string) => [path, `${path}-wal`, `${path}-shm`];

// Issue 11: the store files were created 0644 and relied on the data directory's 0700.
describe('SQLite store files are readable by their owner only', () => {
  it('creates the database, -wal and -shm with mode 0600', async () => {
    const path = join(dir, 'new.db');
    const store = new SqliteStore({ path, kek: randomBytes(32), licenseKeys: LICENSE_KEYS });
    await store.installLicense(await license(), T0); // a write: the WAL has content
    for (const file of files(path)) {
      expect(existsSync(file), file).toBe(true);
      expect(mode(file).toString(8), file).toBe('600');
    }
    await store.close();
  });

  it('tightens the files of an older version (0644) when it opens them', async () => {
    const path = join(dir, 'old.db');
    const kek = randomBytes(32);
    const first = new SqliteStore({ path, kek, licenseKeys: LICENSE_KEYS });
    await first.installLicense(await license(), T0);
    for (const file of files(path)) chmodSync(file, 0o644);
    const reopened = new SqliteStore({ path, kek, licenseKeys: LICENSE_KEYS });
    for (const file of files(path)) expect(mode(file).toString(8), file).toBe('600');
    await reopened.close();
    await first.close();
  });
});
