import { type CryptoKey, SignJWT } from 'jose';
import type { Lease } from './lease.js';
import { tokenExpirySeconds } from './timing.js';

/** The JOSE `typ` of a lease token (RFC 8725 §3.11). */
export const LEASE_TOKEN_TYP = 'lease+jwt';

/**
 * Claims of a lease token. The SDK verifies them offline against the cluster's JWKS; `grace` is signed
 * here so that the offline grace period is the vendor's decision, never the client's.
 */
export interface LeaseTokenClaims {
  readonly iss: 'leasehold';
  readonly sub: string;
  readonly jti: string;
  readonly lic: string;
  readonly feat: string;
  readonly fence: number;
  readonly slot: number;
  readonly grace: number;
  readonly iat: number;
  readonly exp: number;
}

export interface SigningKey {
  readonly kid: string;
  readonly key: CryptoKey;
}

export function leaseTokenClaims(lease: Lease, now: number): LeaseTokenClaims {
  return {
    iss: 'leasehold',
    sub: lease.client.id,
    jti: lease.id,
    lic: lease.licenseId,
    feat: lease.feature,
    fence: lease.fence,
    slot: lease.slot,
    grace: Math.floor(lease.graceMs / 1000),
    iat: Math.floor(now / 1000),
    exp: tokenExpirySeconds(lease.expiresAt),
  };
}

export async function signLeaseToken(lease: Lease, now: number, signer: SigningKey): Promise<string> {
  const claims = leaseTokenClaims(lease, now);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: LEASE_TOKEN_TYP })
    .sign(signer.key);
}
