import { randomBytes } from 'node:crypto';
import { LeaseholdError } from '@leasehold/domain';
import { openBytes, type RandomBytes, sealBytes } from './aes-gcm.js';
import type { DataKey } from './data-key.js';

/** What a sealed value is; with the record id it forms the AAD, so no ciphertext fits another record. */
export type SealedKind =
  | 'license.raw'
  | 'license.customer'
  | 'signing-key.private'
  | 'cluster-identity.private';

const PREFIX = 'enc:v1:';

/**
 * Encrypts single fields of records under the data key: `enc:v1:<data key id>:<base64url>`. The data key
 * id in the value leaves room for a later data-key rotation (several keys readable at once).
 */
export class RecordCipher {
  constructor(
    readonly dataKey: DataKey,
    private readonly random: RandomBytes = randomBytes,
  ) {}

  seal(kind: SealedKind, id: string, plaintext: string): string {
    const sealed = sealBytes(this.dataKey.key, aad(kind, id), Buffer.from(plaintext, 'utf8'), this.random);
    return `${PREFIX}${this.dataKey.id}:${sealed.toString('base64url')}`;
  }

  open(kind: SealedKind, id: string, value: string): string {
    if (!RecordCipher.isSealed(value)) {
      throw new LeaseholdError('DATA_DECRYPTION_FAILED', `the stored ${kind} of "${id}" is not encrypted`);
    }
    const rest = value.slice(PREFIX.length);
    const colon = rest.indexOf(':');
    const keyId = rest.slice(0, colon);
    const plain =
      keyId === this.dataKey.id
        ? openBytes(this.dataKey.key, aad(kind, id), Buffer.from(rest.slice(colon + 1), 'base64url'))
        : undefined;
    if (!plain) {
      throw new LeaseholdError(
        'DATA_DECRYPTION_FAILED',
        `the stored ${kind} of "${id}" does not decrypt under data key "${this.dataKey.id}"`,
      );
    }
    return plain.toString('utf8');
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }
}

const aad = (kind: SealedKind, id: string) => `leasehold/${kind}/${id}`;
