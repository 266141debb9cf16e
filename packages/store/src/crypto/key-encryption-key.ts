import { createHash } from 'node:crypto';
import { LeaseholdError } from '@leasehold/domain';

export const KEK_BYTES = 32;

/**
 * Reads a key-encryption key: base64 (standard or url-safe) of exactly 32 bytes, as
 * `openssl rand -base64 32` prints it. `source` names where it came from, for the error only.
 */
export function parseKek(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (bytes.length !== KEK_BYTES) {
    throw new LeaseholdError(
      'KEK_INVALID',
      `the key-encryption key from ${source} is not base64 of ${KEK_BYTES} bytes (make one with "openssl rand -base64 32")`,
    );
  }
  return bytes;
}

/**
 * A short public name for a KEK, stored beside the data key it wraps so that a wrong KEK is named in the
 * error. A truncated SHA-256 of a 256-bit random key reveals nothing usable about it.
 */
export function kekFingerprint(kek: Uint8Array): string {
  return `sha256:${createHash('sha256').update(kek).digest('hex').slice(0, 16)}`;
}
