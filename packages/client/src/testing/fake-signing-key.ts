import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { JWK } from 'jose';

/** One of a fake cluster's Ed25519 keys (signing, identity or vendor), with its public JWK. */
export interface SigningKey {
  /** Its RFC 7638 thumbprint, as real nodes and the vendor CLI name keys. */
  readonly kid: string;
  readonly key: KeyObject;
  readonly jwk: JWK;
}

/** A fresh Ed25519 key whose `kid` is its thumbprint. */
export function newKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const { x } = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = thumbprint(x as string);
  return { kid, key: privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } };
}

/** RFC 7638 §3.2: SHA-256 over the required members in lexical order, base64url. */
export function thumbprint(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

export function b64(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** A compact JWS of `payload` under `header`, signed with `key`. */
export function signJws(key: SigningKey, header: Record<string, unknown>, payload: unknown): string {
  const input = `${b64(JSON.stringify({ alg: 'EdDSA', kid: key.kid, ...header }))}.${b64(JSON.stringify(payload))}`;
  return `${input}.${sign(null, Buffer.from(input), key.key).toString('base64url')}`;
}

/** base64url(SHA-256): a lease token's `lhash` of a license JWS. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
