import type { InstalledLicense } from '../license/license.js';
import type { ClientInfo, Lease, LeaseEndReason } from './lease.js';
import { leaseWindow } from './timing.js';

/**
 * How a lease changes at each step of its life, decided once for every backend. The backends make the
 * change atomic (one SQLite transaction, one compare-guarded etcd transaction); what the new lease looks
 * like is decided here.
 */

/** What a checkout asked for, as far as the new lease is concerned. */
export interface GrantRequest {
  readonly leaseId: string;
  readonly feature: string;
  readonly client: ClientInfo;
  readonly requestId: string;
  readonly now: number;
}

/** A new lease of `license` in `slot`, granted at `request.now` with the store revision `fence`. */
export function grantedLease(
  license: InstalledLicense,
  request: GrantRequest,
  slot: number,
  fence: number,
): Lease {
  const window = leaseWindow(license.lease, request.now, license.expiresAt);
  return {
    id: request.leaseId,
    licenseId: license.id,
    feature: request.feature,
    slot,
    fence,
    client: request.client,
    requestId: request.requestId,
    createdAt: request.now,
    renewedAt: request.now,
    expiresAt: window.expiresAt,
    reservedUntil: window.reservedUntil,
    graceMs: license.lease.graceMs,
    revokedAt: undefined,
    endedAt: undefined,
    endReason: undefined,
  };
}

/** A renewal at `now`: the license's window from now, but never a shorter reservation than before (a
 * token issued earlier may rely on it). Call after `assertRenewable`. */
export function renewedLease(lease: Lease, license: InstalledLicense, now: number): Lease {
  const window = leaseWindow(license.lease, now, license.expiresAt);
  return {
    ...lease,
    renewedAt: now,
    expiresAt: Math.max(window.expiresAt, lease.expiresAt),
    reservedUntil: Math.max(window.reservedUntil, lease.reservedUntil),
    graceMs: license.lease.graceMs,
  };
}

export function endedLease(lease: Lease, at: number, reason: LeaseEndReason): Lease {
  return { ...lease, endedAt: at, endReason: reason };
}

/** A lease whose reservation ran out ended at its deadline, whenever the store notices. */
export function expiredLease(lease: Lease): Lease {
  return endedLease(lease, lease.reservedUntil, 'expired');
}

/**
 * A client's check-in of a live lease: released now, or, when its reservation had run out already,
 * expired at the deadline (the seat was free from then on, and the history should say so).
 */
export function releasedLease(lease: Lease, now: number): Lease {
  return now >= lease.reservedUntil ? expiredLease(lease) : endedLease(lease, now, 'released');
}

/**
 * An operator's force-release of a live lease. Soft (default): the lease is marked revoked and keeps its
 * seat until its reservation runs out, so no second token overlaps the last one issued. `immediate`: the
 * lease ends now. A lease already past its reservation simply expired. The result has an `endReason`
 * exactly when the seat frees now.
 */
export function forceReleasedLease(lease: Lease, now: number, immediate: boolean): Lease {
  if (now >= lease.reservedUntil) return expiredLease(lease);
  const revoked: Lease = { ...lease, revokedAt: lease.revokedAt ?? now };
  return immediate ? endedLease(revoked, now, 'revoked') : revoked;
}
