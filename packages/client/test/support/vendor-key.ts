import { generateKeyPairSync } from 'node:crypto';
import type { JWK } from 'jose';

/** A vendor public key for tests that never reach a node (option checks): no grant is ever checked with it. */
export const TEST_VENDOR_KEY: JWK = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: (generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK).x as string,
};
