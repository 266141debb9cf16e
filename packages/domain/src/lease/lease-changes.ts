import type { InstalledLicense } from '../license/license.js';
import type { ClientInfo, Lease, LeaseEndReason } from './lease.js';
import { EXACT_HAND_OVER, type SeatHandOver } from './seat-hand-over.js';
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
  /**
   * A fixed hold of this many ms instead of the license's lease window: no grace, the same instant for
   * expiry and reservation. Seat blocks lent to edge sites are held this way (docs/replication.md).
   */
  readonly holdMs?: number | undefined;
  /** The node granting it (the lease's `grantedBy`). */
  readonly grantedBy?: string | undefined;
}

/** The window of a grant or renewal at `now`: the license's policy, or a fixed hold (seat blocks). */
function windowAt(license: InstalledLicense, now: number, holdMs: number | undefined) {
  if (holdMs === undefined)
    return { ...leaseWindow(license.lease, now, license.expiresAt), graceMs: license.lease.graceMs };
  const until = Math.min(now + holdMs, license.expiresAt);
  return { expiresAt: until, reservedUntil: until, graceMs: 0 };
}

/** A new lease of `license` in `slot`, granted at `request.now` with the store revision `fence`. */
export function grantedLease(
  license: InstalledLicense,
  request: GrantRequest,
  slot: number,
  fence: number,
): Lease {
  const window = windowAt(license, request.now, request.holdMs);
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
    graceMs: window.graceMs,
    revokedAt: undefined,
    endedAt: undefined,
    endReason: undefined,
    ...(request.grantedBy === undefined ? {} : { grantedBy: request.grantedBy }),
  };
}

/** A renewal at `now`: the license's window from now, but never a shorter reservation than before (a
 * token issued earlier may rely on it). Call after `assertRenewable`. */
export function renewedLease(
  lease: Lease,
  license: InstalledLicense,
  now: number,
  holdMs?: number | undefined,
): Lease {
  const window = windowAt(license, now, holdMs);
  return {
    ...lease,
    renewedAt: now,
    expiresAt: Math.max(window.expiresAt, lease.expiresAt),
    reservedUntil: Math.max(window.reservedUntil, lease.reservedUntil),
    graceMs: window.graceMs,
  };
}

/**
 * A lease of an edge site cut to end by `until`, its seat block's deadline on the edge's clock: no local
 * lease outlives its block. Grace is cut too, so a token's offline use never runs past the block either.
 * A lease that already ends earlier is returned as it is.
 */
export function cappedLease(lease: Lease, deadline: number): Lease {
  // Stored deadlines are whole milliseconds; a block deadline read off a monotonic clock is not (the edge
  // cut test caught a fractional one failing SQLite's INTEGER column). Down is the safe side.
  const until = Math.floor(deadline);
  if (lease.reservedUntil <= until) return lease;
  const expiresAt = Math.min(lease.expiresAt, until);
  return { ...lease, expiresAt, reservedUntil: until, graceMs: Math.min(lease.graceMs, until - expiresAt) };
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
 * seat until its reservation runs out (and the clock margin after it, `handOver`), so no second token
 * overlaps the last one issued. `immediate`: the lease ends now. A lease whose seat is free already simply
 * expired. The result has an `endReason` exactly when the seat frees now.
 */
export function forceReleasedLease(
  lease: Lease,
  now: number,
  immediate: boolean,
  handOver: SeatHandOver = EXACT_HAND_OVER,
): Lease {
  if (!handOver.occupies(lease, now)) return expiredLease(lease);
  const revoked: Lease = { ...lease, revokedAt: lease.revokedAt ?? now };
  return immediate ? endedLease(revoked, now, 'revoked') : revoked;
}
