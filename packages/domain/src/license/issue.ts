import { CompactEncrypt, SignJWT } from 'jose';
import type { PrivateKeyInfo, PublicKeyInfo } from '../keys/key-pair.js';
import { type LicenseClaims, licenseClaimsValidator } from './claims.js';

/** The JOSE `typ` of a license file (explicit typing, RFC 8725 §3.11): a license is never a lease token. */
export const LICENSE_TYP = 'license+jwt';

/**
 * Signs license claims with a vendor key: a JWS compact serialization (RFC 7515) with `alg` EdDSA and the
 * key's thumbprint as `kid`, verifiable by any JOSE library or by `openssl pkeyutl -verify -rawin`.
 */
export async function issueLicense(claims: LicenseClaims, vendorKey: PrivateKeyInfo): Promise<string> {
  if (!licenseClaimsValidator.Check(claims)) {
    const first = licenseClaimsValidator.Errors(claims)[0];
    throw new TypeError(
      `invalid license claims: ${first?.instancePath || '/'} ${first?.message ?? ''}`.trim(),
    );
  }
  if (claims.nbf >= claims.exp) throw new TypeError('the license must start before it expires');
  const { iat, nbf, exp, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'EdDSA', kid: vendorKey.kid, typ: LICENSE_TYP })
    .setIssuedAt(iat)
    .setNotBefore(nbf)
    .setExpirationTime(exp)
    .sign(vendorKey.key);
}

/**
 * Wraps a signed license in a JWE for one customer (RFC 7516): ECDH-ES+A256KW on the customer's X25519
 * key, content encrypted with A256GCM, `cty` JWT (a nested JWT, RFC 7519 §5.2).
 */
export async function encryptLicense(signed: string, customerKey: PublicKeyInfo): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(signed))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'JWT', kid: customerKey.kid })
    .encrypt(customerKey.key);
}
