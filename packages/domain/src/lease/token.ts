import { type CryptoKey, SignJWT } from 'jose';
import type { LicenseBinding } from '../license/license-binding.js';
import type { Lease } from './lease.js';
import { tokenExpirySeconds } from './timing.js';

/** The JOSE `typ` of a lease token (RFC 8725 §3.11). */
export const LEASE_TOKEN_TYP = 'lease+jwt';

/**
 * Claims of a lease token. The SDK verifies them offline against the cluster's JWKS; `grace` is signed
 * here so that the offline grace period is the vendor's decision, never the client's. `lver` and `lhash`
 * bind the token to exactly one vendor-signed license (its version and the hash of its JWS, issue 11):
 * the SDK compares them with the license that comes with the grant. A node that cannot read the license
 * it granted under leaves them out, and an SDK holding vendor keys then refuses the grant.
 */
export interface LeaseTokenClaims {
  readonly iss: 'leasehold';
  readonly sub: string;
  readonly jti: string;
  readonly lic: string;
  readonly feat: string;
  readonly lver?: number;
  readonly lhash?: string;
  readonly fence: number;
  readonly slot: number;
  readonly grace: number;
  /**
   * The fencing epoch of the primary that signed (docs/replication.md, "Promotion"): a promoted replica
   * signs at a higher one, and an SDK that has seen it refuses grants of a lower one (the old primary's).
   * Always set by this release; absent from older nodes' tokens (read as 1).
   */
  readonly epoch?: number;
  readonly iat: number;
  readonly exp: number;
}

export interface SigningKey {
  readonly kid: string;
  readonly key: CryptoKey;
}

export function leaseTokenClaims(
  lease: Lease,
  now: number,
  license?: LicenseBinding,
  epoch = 1,
): LeaseTokenClaims {
  return {
    iss: 'leasehold',
    sub: lease.client.id,
    jti: lease.id,
    lic: lease.licenseId,
    feat: lease.feature,
    ...(license && license.id === lease.licenseId ? { lver: license.version, lhash: license.hash } : {}),
    fence: lease.fence,
    slot: lease.slot,
    grace: Math.floor(lease.graceMs / 1000),
    epoch,
    iat: Math.floor(now / 1000),
    exp: tokenExpirySeconds(lease.expiresAt),
  };
}

export async function signLeaseToken(
  lease: Lease,
  now: number,
  signer: SigningKey,
  license?: LicenseBinding,
  epoch = 1,
): Promise<string> {
  const claims = leaseTokenClaims(lease, now, license, epoch);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: LEASE_TOKEN_TYP })
    .sign(signer.key);
}
