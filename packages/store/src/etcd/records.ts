import type { InstalledLicense, Lease } from '@leasehold/domain';
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

export function encodeLicense(license: InstalledLicense): string {
  return JSON.stringify(license);
}

export function decodeLicense(kv: KeyValue): InstalledLicense {
  const license = JSON.parse(kv.value.toString()) as InstalledLicense;
  return { ...license, issuer: license.issuer ?? undefined, revokedAt: license.revokedAt ?? undefined };
}

export function decodeJson<T>(kv: KeyValue): T {
  return JSON.parse(kv.value.toString()) as T;
}
