import type { JSONWebKeySet, JWK } from 'jose';

/**
 * The vendor's public keys as a product bakes them in: one key or several, each an Ed25519 JWK, a JWK Set
 * (`{ keys: [...] }`) or an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, what `leasehold keys generate` writes
 * to `vendor.pub.pem`).
 */
export type VendorKeyInput = JWK | JSONWebKeySet | string;
export type VendorKeys = VendorKeyInput | readonly VendorKeyInput[];

// RFC 8410 §4: an Ed25519 SubjectPublicKeyInfo is this fixed 12-byte DER header and the 32-byte key.
const ED25519_SPKI_PREFIX = '302a300506032b6570032100';
const MAX_KEYS = 64;

/**
 * Reads `vendorKeys` into bare Ed25519 public JWKs (`kty`, `crv`, `x`), synchronously, so `createClient`
 * stays synchronous and a wrong key is a `TypeError` at start rather than a refusal at the first checkout.
 * PEMs are read by hand instead of with jose's `importSPKI` (asynchronous): an Ed25519 SPKI is a fixed
 * 44-byte structure, and the signatures themselves are checked by jose.
 */
export function readVendorKeys(input: unknown): JWK[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new TypeError('options.vendorKeys must name at least one key');
  const keys = list.flatMap((entry, i) =>
    readEntry(entry, `options.vendorKeys${Array.isArray(input) ? `[${i}]` : ''}`),
  );
  if (keys.length === 0) throw new TypeError('options.vendorKeys must name at least one key');
  if (keys.length > MAX_KEYS) throw new TypeError(`options.vendorKeys holds more than ${MAX_KEYS} keys`);
  return keys;
}

function readEntry(entry: unknown, where: string): JWK[] {
  if (typeof entry === 'string') return [fromPem(entry, where)];
  if (typeof entry !== 'object' || entry === null) {
    throw new TypeError(`${where} must be an Ed25519 public key: a JWK, a JWK Set or an SPKI PEM`);
  }
  const keys = (entry as { keys?: unknown }).keys;
  if (keys !== undefined) {
    if (!Array.isArray(keys)) throw new TypeError(`${where}.keys must be an array of JWKs`);
    return keys.map((key, i) => fromJwk(key, `${where}.keys[${i}]`));
  }
  return [fromJwk(entry, where)];
}

function fromJwk(value: unknown, where: string): JWK {
  const jwk = value as JWK | null;
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError(`${where} is not a JWK`);
  if (jwk.d !== undefined) throw new TypeError(`${where} is a private key; give the vendor's public key`);
  if (
    jwk.kty !== 'OKP' ||
    jwk.crv !== 'Ed25519' ||
    typeof jwk.x !== 'string' ||
    !/^[A-Za-z0-9_-]{43}$/.test(jwk.x)
  ) {
    throw new TypeError(`${where} is not an Ed25519 public JWK (kty "OKP", crv "Ed25519", x)`);
  }
  return Object.freeze({ kty: 'OKP', crv: 'Ed25519', x: jwk.x });
}

function fromPem(pem: string, where: string): JWK {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (!match?.[1]) {
    throw new TypeError(`${where} is not an SPKI PEM ("-----BEGIN PUBLIC KEY-----") nor a JWK`);
  }
  const der = base64ToBytes(match[1].replace(/\s+/g, ''));
  const hex = [...der].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (der.length !== 44 || !hex.startsWith(ED25519_SPKI_PREFIX)) {
    throw new TypeError(`${where} is not an Ed25519 public key (licenses are signed with Ed25519)`);
  }
  return Object.freeze({ kty: 'OKP', crv: 'Ed25519', x: bytesToBase64url(der.subarray(12)) });
}

function base64ToBytes(text: string): Uint8Array {
  const binary = globalThis.atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function bytesToBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return globalThis.btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
