import {
  compactDecrypt,
  compactVerify,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { LeaseholdError } from '../errors/leasehold-error.js';
import type { ErrorCode } from '../errors/registry.js';
import type { PrivateKeyInfo, PublicKeyInfo } from '../keys/key-pair.js';
import { licenseClaimsValidator } from './claims.js';
import { LICENSE_TYP } from './issue.js';
import { type License, licenseFromClaims } from './license.js';

export interface LicenseVerificationKeys {
  /** Vendor public keys whose signatures count, by `kid`. */
  readonly vendorKeys: ReadonlyMap<string, PublicKeyInfo>;
  /** Customer private keys that may decrypt JWE-wrapped licenses, by `kid`. */
  readonly decryptionKeys?: ReadonlyMap<string, PrivateKeyInfo>;
}

// RFC 8725 §3.1: allow exactly the algorithms we issue. `Ed25519` is the fully specified name for the
// same signature (RFC 9864); `none`, HS256 and friends are refused before any key is touched.
const ALLOWED_ALGS = new Set(['EdDSA', 'Ed25519']);
// Header parameters that carry or point to a key. A license never brings its own key (the CVE-2018-0114
// class of bugs): the only keys that count are the ones the operator configured.
const EMBEDDED_KEY_PARAMS = ['jwk', 'jku', 'x5c', 'x5u'] as const;
const MAX_LICENSE_BYTES = 64 * 1024;

function reject(code: ErrorCode, detail: string, cause?: unknown): never {
  throw new LeaseholdError(code, detail, undefined, cause === undefined ? undefined : { cause });
}

function headerOf(compact: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(compact);
  } catch (cause) {
    return reject('LICENSE_MALFORMED', 'the license header is not valid base64url JSON', cause);
  }
}

async function unwrap(raw: string, keys: LicenseVerificationKeys): Promise<string> {
  const parts = raw.split('.');
  if (parts.length === 3) return raw;
  if (parts.length !== 5) {
    reject('LICENSE_MALFORMED', 'a license is a JWS (3 parts) or a JWE (5 parts) compact serialization');
  }
  const header = headerOf(raw);
  const key = typeof header.kid === 'string' ? keys.decryptionKeys?.get(header.kid) : undefined;
  if (!key) {
    reject('LICENSE_DECRYPTION_FAILED', 'the license is encrypted to a key this server does not hold');
  }
  try {
    const { plaintext } = await compactDecrypt(raw, key.key, {
      keyManagementAlgorithms: ['ECDH-ES+A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return new TextDecoder().decode(plaintext);
  } catch (cause) {
    return reject('LICENSE_DECRYPTION_FAILED', 'the encrypted license does not decrypt', cause);
  }
}

/**
 * The signed license (JWS) inside a license file as installed: the file itself, or the JWS a JWE wraps,
 * decrypted with `keys.decryptionKeys`. It is what the SDK verifies against the vendor's keys (issue 11).
 * Throws LICENSE_MALFORMED or LICENSE_DECRYPTION_FAILED.
 */
export async function signedLicenseOf(licenseFile: string, keys: LicenseVerificationKeys): Promise<string> {
  const jws = await unwrap(licenseFile.trim(), keys);
  if (jws.split('.').length !== 3)
    reject('LICENSE_MALFORMED', 'the encrypted content is not a signed license');
  return jws;
}

function mapJoseError(err: unknown): never {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    reject('LICENSE_SIGNATURE_INVALID', 'the signature does not match the license contents', err);
  }
  if (err instanceof errors.JWTExpired) reject('LICENSE_EXPIRED', 'the license has expired', err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') reject('LICENSE_NOT_YET_VALID', 'the license is not valid yet', err);
    reject('LICENSE_MALFORMED', `license claim "${err.claim}" is invalid: ${err.reason}`, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) reject('LICENSE_ALG_FORBIDDEN', err.message, err);
  if (err instanceof errors.JOSEError) reject('LICENSE_MALFORMED', err.message, err);
  throw err;
}

/**
 * Verifies a license file and returns the license it grants. Checks, in this order: shape, algorithm,
 * embedded keys, `kid`, signature, validity dates at `now`, and claim schema. Every rejection is a
 * `LeaseholdError` with its own code.
 */
export async function verifyLicense(
  licenseFile: string,
  keys: LicenseVerificationKeys,
  now: number,
): Promise<License> {
  const { raw, jws, vendorKey } = await signedLicense(licenseFile, keys);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jws, vendorKey.key, {
      algorithms: [...ALLOWED_ALGS],
      typ: LICENSE_TYP,
      currentDate: new Date(now),
      requiredClaims: ['iat', 'nbf', 'exp'],
    }));
  } catch (err) {
    mapJoseError(err);
  }
  return licenseOf(payload, vendorKey, raw);
}

/**
 * Verifies a license the store kept (`raw`, the file as installed) and returns what its signature says,
 * whatever the time: every check of {@link verifyLicense} except the validity dates, which each grant
 * decides at its own `now` from the returned license. The store serves entitlements only from this, never
 * from its own columns (issue 11: seat counts edited in the data file granted extra seats).
 */
export async function verifyStoredLicense(raw: string, keys: LicenseVerificationKeys): Promise<License> {
  const signed = await signedLicense(raw, keys);
  let payload: unknown;
  try {
    const { payload: bytes } = await compactVerify(signed.jws, signed.vendorKey.key, {
      algorithms: [...ALLOWED_ALGS],
    });
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    if (err instanceof SyntaxError) reject('LICENSE_MALFORMED', 'the license payload is not JSON', err);
    mapJoseError(err);
  }
  return licenseOf(payload, signed.vendorKey, signed.raw);
}

/** Shape, algorithm, embedded keys, `typ` and `kid`: everything before the signature is checked. */
async function signedLicense(
  licenseFile: string,
  keys: LicenseVerificationKeys,
): Promise<{ raw: string; jws: string; vendorKey: PublicKeyInfo }> {
  const raw = licenseFile.trim();
  if (raw.length === 0 || raw.length > MAX_LICENSE_BYTES) {
    reject('LICENSE_MALFORMED', `a license file is 1 to ${MAX_LICENSE_BYTES} bytes of compact JOSE`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(raw))
    reject('LICENSE_MALFORMED', 'a license file holds only base64url and dots');
  const jws = await unwrap(raw, keys);
  if (jws.split('.').length !== 3)
    reject('LICENSE_MALFORMED', 'the encrypted content is not a signed license');
  const header = headerOf(jws);

  if (typeof header.alg !== 'string' || !ALLOWED_ALGS.has(header.alg)) {
    reject('LICENSE_ALG_FORBIDDEN', `algorithm "${String(header.alg)}" is not allowed; licenses use EdDSA`);
  }
  const embedded = EMBEDDED_KEY_PARAMS.find((p) => p in header);
  if (embedded) {
    reject(
      'LICENSE_KEY_UNTRUSTED',
      `the license header carries its own key ("${embedded}"); it is not trusted`,
    );
  }
  if (header.typ !== LICENSE_TYP) reject('LICENSE_MALFORMED', `the license "typ" must be "${LICENSE_TYP}"`);
  const vendorKey = typeof header.kid === 'string' ? keys.vendorKeys.get(header.kid) : undefined;
  if (!vendorKey) {
    reject('LICENSE_KID_UNKNOWN', `key id "${String(header.kid)}" is not one of this server's vendor keys`);
  }
  return { raw, jws, vendorKey };
}

/** The claim schema, then the license the claims grant. */
function licenseOf(payload: unknown, vendorKey: PublicKeyInfo, raw: string): License {
  if (!licenseClaimsValidator.Check(payload)) {
    const first = licenseClaimsValidator.Errors(payload)[0];
    reject(
      'LICENSE_MALFORMED',
      `license claims: ${first?.instancePath || '/'} ${first?.message ?? 'invalid'}`,
    );
  }
  if (payload.nbf >= payload.exp) reject('LICENSE_MALFORMED', 'the license must start before it expires');
  return licenseFromClaims(payload, vendorKey.kid, raw);
}
