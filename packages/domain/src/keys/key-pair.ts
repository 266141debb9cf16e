import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type JWK,
} from 'jose';

/**
 * Ed25519 signing keys (vendor license keys and cluster lease-token keys) and X25519 customer keys for
 * license encryption. A key's `kid` is its RFC 7638 JWK thumbprint, so the same key always gets the same
 * id and nobody has to invent names.
 */
export type KeyUse = 'sig' | 'enc';

export interface PublicKeyInfo {
  readonly kid: string;
  readonly key: CryptoKey;
  readonly jwk: JWK & { kid: string };
}

export interface KeyPairPems {
  readonly kid: string;
  readonly privatePem: string;
  readonly publicPem: string;
  readonly publicJwk: JWK & { kid: string };
}

const ALG_FOR_USE: Record<KeyUse, string> = { sig: 'EdDSA', enc: 'ECDH-ES+A256KW' };
const CURVE_FOR_USE: Record<KeyUse, string> = { sig: 'Ed25519', enc: 'X25519' };

export async function generateKeyPairPems(use: KeyUse = 'sig'): Promise<KeyPairPems> {
  const { publicKey, privateKey } = await generateKeyPair(ALG_FOR_USE[use], {
    crv: CURVE_FOR_USE[use],
    extractable: true,
  });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    privatePem: await exportPKCS8(privateKey),
    publicPem: await exportSPKI(publicKey),
    publicJwk: { ...jwk, kid, use, alg: ALG_FOR_USE[use] },
  };
}

/** Reads a public key given as SPKI PEM or as a JWK (JSON). */
export async function importPublicKey(text: string, use: KeyUse = 'sig'): Promise<PublicKeyInfo> {
  const trimmed = text.trim();
  let key: CryptoKey;
  let jwk: JWK;
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as JWK;
    if (parsed.d !== undefined) throw new TypeError('expected a public key, got a private JWK');
    const { kid: _kid, use: _use, alg: _alg, ...bare } = parsed;
    key = (await importJWK(bare, ALG_FOR_USE[use], { extractable: true })) as CryptoKey;
    jwk = bare;
  } else if (trimmed.includes('-----BEGIN PUBLIC KEY-----')) {
    key = await importSPKI(trimmed, ALG_FOR_USE[use], { extractable: true });
    jwk = await exportJWK(key);
  } else {
    throw new TypeError('expected an SPKI PEM ("-----BEGIN PUBLIC KEY-----") or a JWK');
  }
  if (jwk.crv !== CURVE_FOR_USE[use])
    throw new TypeError(`expected a ${CURVE_FOR_USE[use]} key, got ${jwk.crv}`);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, key, jwk: { ...jwk, kid, use, alg: ALG_FOR_USE[use] } };
}

export interface PrivateKeyInfo {
  readonly kid: string;
  readonly key: CryptoKey;
  readonly publicJwk: JWK & { kid: string };
}

/** Reads a PKCS#8 PEM private key and derives its public JWK and `kid`. */
export async function importPrivateKey(pem: string, use: KeyUse = 'sig'): Promise<PrivateKeyInfo> {
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new TypeError('expected a PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----")');
  }
  const key = await importPKCS8(pem.trim(), ALG_FOR_USE[use], { extractable: true });
  const full = await exportJWK(key);
  const { d: _d, ...pub } = full;
  if (pub.crv !== CURVE_FOR_USE[use])
    throw new TypeError(`expected a ${CURVE_FOR_USE[use]} key, got ${pub.crv}`);
  const kid = await calculateJwkThumbprint(pub);
  return { kid, key, publicJwk: { ...pub, kid, use, alg: ALG_FOR_USE[use] } };
}
