import {
  holdsSeat,
  type InstalledLicense,
  type Lease,
  leaseState,
  licenseUnusableReason,
} from '@leasehold/domain';
import type { ApiTokenRecord, SeatUsage } from '@leasehold/store';
import type { Static } from 'typebox';
import { isoTime } from './iso-time.js';
import type { LeaseView, LicenseView, TokenView } from './schemas.js';

const iso = isoTime;
const isoOpt = (ms: number | undefined) => (ms === undefined ? undefined : iso(ms));

export function leaseView(lease: Lease, now: number): Static<typeof LeaseView> {
  // Renew at about a third of the lease's life, so two renewals can fail before it lapses.
  const renewAfter = lease.renewedAt + Math.floor((lease.expiresAt - lease.renewedAt) / 3);
  // Relative times let a client with a wrong wall clock schedule renewals on its monotonic clock.
  return {
    id: lease.id,
    license: lease.licenseId,
    feature: lease.feature,
    state: leaseState(lease, now),
    slot: lease.slot,
    fence: lease.fence,
    client: lease.client,
    requestId: lease.requestId,
    createdAt: iso(lease.createdAt),
    renewedAt: iso(lease.renewedAt),
    expiresAt: iso(lease.expiresAt),
    reservedUntil: iso(lease.reservedUntil),
    renewAfter: iso(renewAfter),
    ttlSeconds: (lease.expiresAt - lease.renewedAt) / 1000,
    renewInSeconds: Math.max(0, renewAfter - now) / 1000,
    graceSeconds: Math.floor(lease.graceMs / 1000),
    revokedAt: isoOpt(lease.revokedAt),
    endedAt: isoOpt(holdsSeat(lease, now) ? undefined : (lease.endedAt ?? lease.reservedUntil)),
    ...(lease.grantedBy === undefined ? {} : { grantedBy: lease.grantedBy }),
  };
}

const LICENSE_STATE = {
  LICENSE_REVOKED: 'revoked',
  LICENSE_EXPIRED: 'expired',
  LICENSE_NOT_YET_VALID: 'not-yet-valid',
  // The stored record does not match its vendor signature (docs/security.md): it grants nothing.
  LICENSE_TAMPERED: 'refused',
  LICENSE_KID_UNKNOWN: 'refused',
} as const;

export function licenseView(
  license: InstalledLicense,
  usage: readonly SeatUsage[],
  now: number,
): Static<typeof LicenseView> {
  const reason = licenseUnusableReason(license, now);
  return {
    id: license.id,
    version: license.version,
    issuer: license.issuer,
    customer: license.customer,
    product: license.product,
    state: reason ? LICENSE_STATE[reason] : 'active',
    refusal: license.refusal && {
      code: license.refusal.code,
      fields: [...license.refusal.fields],
      detail: license.refusal.detail,
    },
    entitlements: license.entitlements.map((e) => ({
      feature: e.feature,
      seats: e.seats,
      inUse: usage.find((u) => u.licenseId === license.id && u.feature === e.feature)?.inUse ?? 0,
    })),
    issuedAt: iso(license.issuedAt),
    notBefore: iso(license.notBefore),
    expiresAt: iso(license.expiresAt),
    lease: {
      ttlSeconds: Math.floor(license.lease.ttlMs / 1000),
      graceSeconds: Math.floor(license.lease.graceMs / 1000),
      policy: license.lease.policy,
    },
    signedBy: license.signedBy,
    installedAt: iso(license.installedAt),
    revokedAt: isoOpt(license.revokedAt),
  };
}

export function tokenView(token: ApiTokenRecord): Static<typeof TokenView> {
  return {
    id: token.id,
    scope: token.scope,
    license: token.licenseId,
    name: token.name,
    createdAt: iso(token.createdAt),
    revokedAt: isoOpt(token.revokedAt),
  };
}
