import { randomBytes } from 'node:crypto';
import { LeaseholdError } from '@leasehold/domain';
import { openBytes, type RandomBytes, sealBytes } from './aes-gcm.js';
import { KEK_BYTES, kekFingerprint } from './key-encryption-key.js';

/** The data key (DEK) that encrypts records; it lives in memory only, unwrapped. */
export interface DataKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * The data key as the store keeps it: wrapped (AES-256-GCM) under the key-encryption key. One record per
 * store, shared by every node of a cluster; `kek` names the KEK it is wrapped under (a fingerprint).
 */
export interface WrappedDataKey {
  readonly v: 1;
  readonly id: string;
  readonly kek: string;
  /** base64url of nonce ‖ ciphertext ‖ tag. */
  readonly wrapped: string;
}

const aad = (id: string) => `leasehold/data-key/${id}`;

export function newDataKey(random: RandomBytes = randomBytes): DataKey {
  return { id: random(8).toString('hex'), key: random(32) };
}

export function wrapDataKey(
  dataKey: DataKey,
  kek: Uint8Array,
  random: RandomBytes = randomBytes,
): WrappedDataKey {
  assertKek(kek);
  return {
    v: 1,
    id: dataKey.id,
    kek: kekFingerprint(kek),
    wrapped: sealBytes(kek, aad(dataKey.id), dataKey.key, random).toString('base64url'),
  };
}

/** Unwraps the stored data key; a wrong KEK is KEK_MISMATCH, never a garbage key. */
export function unwrapDataKey(record: WrappedDataKey, kek: Uint8Array): DataKey {
  assertKek(kek);
  const key =
    record.v === 1 ? openBytes(kek, aad(record.id), Buffer.from(record.wrapped, 'base64url')) : undefined;
  if (key?.length !== 32) {
    throw new LeaseholdError(
      'KEK_MISMATCH',
      `the key-encryption key (${kekFingerprint(kek)}) does not unwrap the store's data key ` +
        `"${record.id}", which is wrapped under ${record.kek}`,
    );
  }
  return { id: record.id, key };
}

/** `leasehold kek rotate`: the same data key, wrapped under `newKek`. Records stay as they are. */
export function rewrapDataKey(
  record: WrappedDataKey,
  oldKek: Uint8Array,
  newKek: Uint8Array,
  random: RandomBytes = randomBytes,
): WrappedDataKey {
  return wrapDataKey(unwrapDataKey(record, oldKek), newKek, random);
}

export function parseWrappedDataKey(text: string): WrappedDataKey {
  const parsed = JSON.parse(text) as WrappedDataKey;
  if (parsed.v !== 1 || typeof parsed.id !== 'string' || typeof parsed.wrapped !== 'string') {
    throw new LeaseholdError(
      'DATA_DECRYPTION_FAILED',
      'the stored data key record is not one this version reads',
    );
  }
  return parsed;
}

function assertKek(kek: Uint8Array): void {
  if (kek.length !== KEK_BYTES) throw new TypeError(`a key-encryption key is ${KEK_BYTES} bytes`);
}
