import type { License } from '@leasehold/domain';
import type { StoredSigningKey } from '../port/lease-store.js';
import type { RecordCipher } from './record-cipher.js';

/*
 * Which fields are secret at rest. Encrypted: the license file as installed (`raw`, whose payload holds
 * every claim) and the customer; signing keys' and the cluster identity key's
 * private PEM. Plaintext, because the store decides on them
 * inside its transactions or lists them without the key: license id, version, issuer, product, dates,
 * lease policy, entitlements (feature names and seat counts), the vendor key thumbprint; lease records;
 * key ids. API token records hold only SHA-256 hashes. docs/security.md says the same.
 */

export function sealLicense<T extends License>(license: T, cipher: RecordCipher): T {
  return {
    ...license,
    raw: cipher.seal('license.raw', license.id, license.raw),
    customer: cipher.seal('license.customer', license.id, license.customer),
  };
}

export function openLicense<T extends License>(license: T, cipher: RecordCipher): T {
  return {
    ...license,
    raw: cipher.open('license.raw', license.id, license.raw),
    customer: cipher.open('license.customer', license.id, license.customer),
  };
}

export function sealSigningKey(key: StoredSigningKey, cipher: RecordCipher): StoredSigningKey {
  return { ...key, privatePem: cipher.seal('signing-key.private', key.kid, key.privatePem) };
}

export function openSigningKey(key: StoredSigningKey, cipher: RecordCipher): StoredSigningKey {
  return { ...key, privatePem: cipher.open('signing-key.private', key.kid, key.privatePem) };
}

/** The cluster identity key (issue 11) is sealed like a signing key, under its own kind. */
export function sealIdentityKey(key: StoredSigningKey, cipher: RecordCipher): StoredSigningKey {
  return { ...key, privatePem: cipher.seal('cluster-identity.private', key.kid, key.privatePem) };
}

export function openIdentityKey(key: StoredSigningKey, cipher: RecordCipher): StoredSigningKey {
  return { ...key, privatePem: cipher.open('cluster-identity.private', key.kid, key.privatePem) };
}
