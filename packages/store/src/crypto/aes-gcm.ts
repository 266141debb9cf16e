import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Randomness for nonces and keys, injectable for tests (STYLE.md rule 4). */
export type RandomBytes = (size: number) => Buffer;

const NONCE_BYTES = 12; // 96-bit nonces: the size GCM is specified for (NIST SP 800-38D §5.2.1.1)
const TAG_BYTES = 16;

/**
 * AES-256-GCM of `plaintext` bound to `aad`: nonce ‖ ciphertext ‖ tag. Nonces are random: one data key
 * seals far fewer than the 2^32 messages SP 800-38D §8.3 allows for random 96-bit nonces.
 */
export function sealBytes(
  key: Uint8Array,
  aad: string,
  plaintext: Uint8Array,
  random: RandomBytes = randomBytes,
): Buffer {
  const nonce = random(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The plaintext, or undefined when the key, the AAD or any byte is wrong (GCM's tag does not verify). */
export function openBytes(key: Uint8Array, aad: string, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}
