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
  /**
   * Set when the stored record does not match its vendor signature (or the signature no longer verifies):
   * the license grants and renews nothing (see license-integrity.ts, docs/security.md).
   */
  readonly refusal?: LicenseRefusal | undefined;
}

/** Why a stored license is not served. */
export interface LicenseRefusal {
  /** LICENSE_TAMPERED, or LICENSE_KID_UNKNOWN when the key that signed it is no longer configured. */
  readonly code: 'LICENSE_TAMPERED' | 'LICENSE_KID_UNKNOWN';
  /** The stored fields that disagree with the signed claims (`seats`, `expiresAt`, …), or `signature`. */
  readonly fields: readonly string[];
  readonly detail: string;
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
):
  | 'LICENSE_TAMPERED'
  | 'LICENSE_KID_UNKNOWN'
  | 'LICENSE_REVOKED'
  | 'LICENSE_EXPIRED'
  | 'LICENSE_NOT_YET_VALID'
  | undefined {
  if (license.refusal) return license.refusal.code;
  if (license.revokedAt !== undefined) return 'LICENSE_REVOKED';
  if (now >= license.expiresAt) return 'LICENSE_EXPIRED';
  if (now < license.notBefore) return 'LICENSE_NOT_YET_VALID';
  return undefined;
}
