import type { InstalledLicense, Lease } from '@leasehold/domain';
import type { RecordCipher } from '../crypto/record-cipher.js';
import { openLicense, sealLicense } from '../crypto/sealed-records.js';
import type { KeyValue } from './etcd-gateway.js';

/** JSON codecs for records kept in etcd. `undefined` fields are dropped by JSON and restored as such. */

type StoredLease = Omit<Lease, 'fence'>;

export function encodeLease(lease: Lease | StoredLease): string {
  const { fence: _fence, ...stored } = lease as Lease;
  return JSON.stringify(stored);
}

/** A lease's fence is the create revision of its record: the revision of the write that granted it. */
export function decodeLease(kv: KeyValue): Lease {
  const stored = JSON.parse(kv.value.toString()) as StoredLease;
  return {
    ...stored,
    client: { ...stored.client },
    revokedAt: stored.revokedAt ?? undefined,
    endedAt: stored.endedAt ?? undefined,
    endReason: stored.endReason ?? undefined,
    fence: kv.createRevision,
  };
}

/** A license record with its secret fields (`raw`, `customer`) sealed under the data key. */
export function encodeLicense(license: InstalledLicense, cipher: RecordCipher): string {
  return JSON.stringify(sealLicense(license, cipher));
}

export function decodeLicense(kv: KeyValue, cipher: RecordCipher): InstalledLicense {
  const license = JSON.parse(kv.value.toString()) as InstalledLicense;
  return openLicense(
    { ...license, issuer: license.issuer ?? undefined, revokedAt: license.revokedAt ?? undefined },
    cipher,
  );
}

export function decodeJson<T>(kv: KeyValue): T {
  return JSON.parse(kv.value.toString()) as T;
}
