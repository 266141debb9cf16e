import type { LeasePolicy } from '../license/license.js';

export interface LeaseWindow {
  readonly expiresAt: number;
  readonly reservedUntil: number;
}

/**
 * The expiry of a lease granted or renewed by a store write that was *sent* at `sentAt` (DESIGN.md, "Time
 * and leases"): a token's expiry is computed from the send time, so however long the answer takes to
 * come back, the token never outlives the store's reservation.
 *
 * Under the strict policy the seat stays reserved through the grace period, so a cut-off client that
 * keeps running on grace never shares its seat. Under the overdraft policy the seat frees at expiry and
 * grace is bounded over-use. No lease outlives its license.
 */
export function leaseWindow(policy: LeasePolicy, sentAt: number, licenseExpiresAt: number): LeaseWindow {
  const expiresAt = Math.min(sentAt + policy.ttlMs, licenseExpiresAt);
  const reservedUntil = policy.policy === 'strict' ? expiresAt + policy.graceMs : expiresAt;
  return { expiresAt, reservedUntil };
}

/** JWT `exp` is whole seconds (RFC 7519 NumericDate); round down so the token never outlives the lease. */
export function tokenExpirySeconds(expiresAt: number): number {
  return Math.floor(expiresAt / 1000);
}
