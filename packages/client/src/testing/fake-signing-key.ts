import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';

/** One of a fake cluster's Ed25519 signing keys, with its public JWK. */
export interface SigningKey {
  readonly kid: string;
  readonly key: KeyObject;
  readonly jwk: JWK;
}

/** A fresh signing key with a random `kid`. */
export function newKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const kid = `fake-${randomUUID().slice(0, 8)}`;
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig' };
  return { kid, key: privateKey, jwk };
}

export function b64(text: string): string {
  return Buffer.from(text).toString('base64url');
}
