import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LeaseholdError, ManualClock } from '@leasehold/domain';
import { kekFingerprint, SqliteStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaks, type SecretFixture, secretFixture } from './support/secrets.js';

const T0 = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'leasehold-at-rest-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fixture: SecretFixture;
beforeAll(async () => {
  fixture = await secretFixture(new ManualClock(T0).now());
});

const fileBytes = (path: string) =>
  Buffer.concat([path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p)));

async function filled(kek: Uint8Array): Promise<{ path: string; store: SqliteStore }> {
  const path = join(dir, `at-rest-${++n}.db`);
  const store = new SqliteStore({ path, kek, licenseKeys: fixture.keys });
  for (const license of fixture.licenses) await store.installLicense(license, T0);
  await store.ensureSigningKey(fixture.signingKey);
  await store.ensureClusterIdentity(fixture.identityKey);
  return { path, store };
}

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as LeaseholdError).code;
  }
  return 'no error';
};

describe('At rest: the SQLite file and the etcd values contain no plaintext license payload or private key', () => {
  it('the SQLite file and its WAL hold none of the secrets, before and after a checkpoint', async () => {
    const { path, store } = await filled(randomBytes(32));
    expect(leaks(fileBytes(path), fixture.needles)).toEqual([]);
    await store.close(); // checkpoints the WAL into the main file
    expect(leaks(fileBytes(path), fixture.needles)).toEqual([]);
  });

  it('the scan finds a secret that is stored in plaintext (the check itself works)', async () => {
    const { path, store } = await filled(randomBytes(32));
    store.database.exec('CREATE TABLE leak (v TEXT)');
    store.database.prepare('INSERT INTO leak VALUES (?)').run(fixture.licenses[0]?.raw);
    await store.close();
    expect(leaks(fileBytes(path), fixture.needles)).toContain('plain license file');
  });

  it('reads back exactly what was stored, across a reopen', async () => {
    const kek = randomBytes(32);
    const { path, store } = await filled(kek);
    await store.close();
    const reopened = new SqliteStore({ path, kek, licenseKeys: fixture.keys });
    const licenses = await reopened.listLicenses();
    expect(licenses.map((l) => [l.id, l.raw, l.customer])).toEqual(
      fixture.licenses
        .map((l) => [l.id, l.raw, l.customer])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    expect((await reopened.listSigningKeys())[0]?.privatePem).toBe(fixture.signingKey.privatePem);
    expect((await reopened.ensureClusterIdentity(fixture.signingKey)).privatePem).toBe(
      fixture.identityKey.privatePem,
    );
    await reopened.close();
  });
});

describe('key-encryption key', () => {
  it('a wrong KEK stops the open with KEK_MISMATCH, naming both fingerprints', async () => {
    const right = randomBytes(32);
    const wrong = randomBytes(32);
    const { path, store } = await filled(right);
    await store.close();
    let error: LeaseholdError | undefined;
    try {
      new SqliteStore({ path, kek: wrong, licenseKeys: fixture.keys });
    } catch (err) {
      error = err as LeaseholdError;
    }
    expect(error?.code).toBe('KEK_MISMATCH');
    expect(error?.message).toContain(kekFingerprint(wrong));
    expect(error?.message).toContain(kekFingerprint(right));
  });

  it('rotation rewraps the data key: the old KEK stops working, the new one reads every record', async () => {
    const oldKek = randomBytes(32);
    const newKek = randomBytes(32);
    const { path, store } = await filled(oldKek);
    const before = readFileSync(path);
    const rotation = await store.rotateKek(newKek);
    expect(rotation.kek).toBe(kekFingerprint(newKek));
    await store.close();
    expect(code(() => new SqliteStore({ path, kek: oldKek, licenseKeys: fixture.keys }))).toBe(
      'KEK_MISMATCH',
    );
    const reopened = new SqliteStore({ path, kek: newKek, licenseKeys: fixture.keys });
    expect((await reopened.listLicenses()).map((l) => l.customer).sort()).toEqual(
      fixture.licenses.map((l) => l.customer).sort(),
    );
    expect((await reopened.listSigningKeys())[0]?.privatePem).toBe(fixture.signingKey.privatePem);
    await reopened.close();
    expect(before.length).toBeGreaterThan(0);
  });

  it('a ciphertext copied onto another record does not decrypt (AAD = kind + id)', async () => {
    const kek = randomBytes(32);
    const { path, store } = await filled(kek);
    const db = store.database;
    const [a, b] = db.prepare('SELECT id, raw FROM licenses ORDER BY id').all() as {
      id: string;
      raw: string;
    }[];
    db.prepare('UPDATE licenses SET raw = ? WHERE id = ?').run(a?.raw, b?.id);
    await store.close();
    const reopened = new SqliteStore({ path, kek, licenseKeys: fixture.keys });
    await expect(reopened.listLicenses()).rejects.toMatchObject({ code: 'DATA_DECRYPTION_FAILED' });
    await reopened.close();
  });

  it('a data file from before encryption at rest is encrypted at its first open with a KEK', async () => {
    const kek = randomBytes(32);
    const { path, store } = await filled(kek);
    // Turn the file back into what an older Leasehold wrote: plaintext secrets and no data key.
    const db = store.database;
    for (const l of fixture.licenses) {
      db.prepare('UPDATE licenses SET raw = ?, customer = ? WHERE id = ?').run(l.raw, l.customer, l.id);
    }
    db.prepare('UPDATE signing_keys SET private_pem = ?').run(fixture.signingKey.privatePem);
    db.exec('DELETE FROM data_keys');
    await store.close();
    expect(leaks(fileBytes(path), fixture.needles)).not.toEqual([]);

    const migrated = new SqliteStore({ path, kek, licenseKeys: fixture.keys });
    expect((await migrated.listSigningKeys())[0]?.privatePem).toBe(fixture.signingKey.privatePem);
    expect((await migrated.listLicenses()).map((l) => l.raw).sort()).toEqual(
      fixture.licenses.map((l) => l.raw).sort(),
    );
    await migrated.close();
    expect(leaks(fileBytes(path), fixture.needles)).toEqual([]);
  });
});
