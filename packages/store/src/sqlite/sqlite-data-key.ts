import type { RandomBytes } from '../crypto/aes-gcm.js';
import {
  newDataKey,
  parseWrappedDataKey,
  unwrapDataKey,
  type WrappedDataKey,
  wrapDataKey,
} from '../crypto/data-key.js';
import { kekFingerprint } from '../crypto/key-encryption-key.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { sealLicense, sealSigningKey } from '../crypto/sealed-records.js';
import type { KekRotation } from '../port/lease-store.js';
import { type LicenseRow, licenseFromRow, type SigningKeyRow, signingKeyFromRow } from './rows.js';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * Unwraps the store's data key, or makes one at first open. A data file written before encryption at
 * rest is encrypted in the same transaction that stores the new data key: no plaintext stays behind.
 */
export function openDataKey(
  conn: SqliteConnection,
  kek: Uint8Array,
  random: RandomBytes | undefined,
): RecordCipher {
  const { db, sql } = conn;
  let migrated = 0;
  const cipher = db
    .transaction(() => {
      const row = sql.getDataKey.get() as { record: string } | undefined;
      if (row) return new RecordCipher(unwrapDataKey(parseWrappedDataKey(row.record), kek), random);
      const dataKey = newDataKey(random);
      const wrapped: WrappedDataKey = wrapDataKey(dataKey, kek, random);
      sql.insertDataKey.run(wrapped.id, JSON.stringify(wrapped));
      const cipher = new RecordCipher(dataKey, random);
      for (const row of sql.allLicenses.all() as LicenseRow[]) {
        if (RecordCipher.isSealed(row.raw)) continue;
        const sealed = sealLicense(licenseFromRow(row, []), cipher);
        sql.sealLicenseSecrets.run(sealed.raw, sealed.customer, row.id);
        migrated++;
      }
      for (const row of sql.listSigningKeys.all() as SigningKeyRow[]) {
        if (RecordCipher.isSealed(row.private_pem)) continue;
        sql.sealSigningKey.run(sealSigningKey(signingKeyFromRow(row), cipher).privatePem, row.kid);
        migrated++;
      }
      return cipher;
    })
    .immediate();
  // The plaintext the migration replaced still sits in free pages: rewrite the file without them.
  if (migrated > 0) db.exec('VACUUM');
  return cipher;
}

/**
 * `leasehold kek rotate`: wraps the data key under `newKek` (this store was opened with the old one).
 * Records are not rewritten; nodes that run keep the data key in memory and need `newKek` at their
 * next start.
 */
export function rotateKek(
  conn: SqliteConnection,
  cipher: RecordCipher,
  newKek: Uint8Array,
  random: RandomBytes | undefined,
): Promise<KekRotation> {
  return conn.write(() => {
    const row = conn.sql.getDataKey.get() as { record: string } | undefined;
    if (!row) throw new Error('the data key vanished from an open store');
    const current = parseWrappedDataKey(row.record);
    if (current.id !== cipher.dataKey.id) throw new Error('the data key changed under an open store');
    // The open already proved the old KEK; the data key itself is in memory.
    const rewrapped = wrapDataKey(cipher.dataKey, newKek, random);
    conn.sql.updateDataKey.run(JSON.stringify(rewrapped), rewrapped.id);
    return { dataKeyId: rewrapped.id, kek: kekFingerprint(newKek) };
  });
}
