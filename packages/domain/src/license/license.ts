import type { LicenseClaims } from './claims.js';

/** How a lease's seat relates to its token's expiry; see docs/leases.md. */
export type GracePolicy = 'strict' | 'overdraft';

export interface LeasePolicy {
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly policy: GracePolicy;
}

export interface Entitlement {
  readonly feature: string;
  readonly seats: number;
}

/** A verified license, as the store keeps it. Times are epoch milliseconds. */
export interface License {
  readonly id: string;
  readonly version: number;
  readonly issuer: string | undefined;
  readonly customer: string;
  readonly product: string;
  readonly entitlements: readonly Entitlement[];
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly lease: LeasePolicy;
  /** Thumbprint of the vendor key that signed it. */
  readonly signedBy: string;
  /** The license file exactly as installed (JWS or JWE compact serialization). */
  readonly raw: string;
}

/** The fields the store adds once a license is installed. */
export interface InstalledLicense extends License {
  readonly installedAt: number;
  readonly revokedAt: number | undefined;
}

export function licenseFromClaims(claims: LicenseClaims, signedBy: string, raw: string): License {
  return {
    id: claims.lid,
    version: claims.ver,
    issuer: claims.iss,
    customer: claims.customer,
    product: claims.product,
    entitlements: Object.entries(claims.features)
      .map(([feature, f]) => ({ feature, seats: f.seats }))
      .sort((a, b) => a.feature.localeCompare(b.feature)),
    issuedAt: claims.iat * 1000,
    notBefore: claims.nbf * 1000,
    expiresAt: claims.exp * 1000,
    lease: {
      ttlMs: claims.lease.ttl * 1000,
      graceMs: claims.lease.grace * 1000,
      policy: claims.lease.policy,
    },
    signedBy,
    raw,
  };
}

export function seatsFor(license: License, feature: string): number {
  return license.entitlements.find((e) => e.feature === feature)?.seats ?? 0;
}

/** Why a license grants no new seats at `now`, or undefined when it does. */
export function licenseUnusableReason(
  license: InstalledLicense,
  now: number,
): 'LICENSE_REVOKED' | 'LICENSE_EXPIRED' | 'LICENSE_NOT_YET_VALID' | undefined {
  if (license.revokedAt !== undefined) return 'LICENSE_REVOKED';
  if (now >= license.expiresAt) return 'LICENSE_EXPIRED';
  if (now < license.notBefore) return 'LICENSE_NOT_YET_VALID';
  return undefined;
}
