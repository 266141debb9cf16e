import { LeaseholdError } from '../errors/leasehold-error.js';
import { type InstalledLicense, licenseUnusableReason, seatsFor } from '../license/license.js';
import { holdsSeat, type Lease } from './lease.js';

/**
 * Seat rules shared by every store backend. They decide; the backend makes the decision atomic.
 */

/** Throws when a retried checkout's request id was first used for something else. */
export function assertSameCheckout(
  existing: Lease,
  request: { feature: string; licenseId?: string | undefined },
): void {
  if (
    existing.feature !== request.feature ||
    (request.licenseId !== undefined && existing.licenseId !== request.licenseId)
  ) {
    // Says nothing about the earlier checkout (its license, feature or lease): the request id is the
    // caller's own, and what it was used for is not the caller's to learn (issue 11).
    throw new LeaseholdError(
      'REQUEST_ID_CONFLICT',
      `request id "${existing.requestId}" was already used for another checkout; use a new one per checkout`,
    );
  }
}

/** Who asks for a lease: a client token's license scope and the client id it acts as, when it has them. */
export interface LeaseAccess {
  readonly leaseId: string;
  /** A client token sees the leases of its license only. */
  readonly licenseId?: string | undefined;
  /** The client id the caller acts as: only the client a lease was granted to may renew or release it. */
  readonly clientId?: string | undefined;
}

/**
 * The lease `found` for a caller, or the coded refusal: LEASE_NOT_FOUND when there is none or it is of
 * another license (a client token cannot tell those apart), LEASE_NOT_OWNED when it was granted to
 * another client id (issue 11: one client token's holders renewed and released each other's leases).
 */
export function accessibleLease(found: Lease | undefined, access: LeaseAccess): Lease {
  if (!found || (access.licenseId !== undefined && found.licenseId !== access.licenseId)) {
    throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${access.leaseId}"`);
  }
  if (access.clientId !== undefined && found.client.id !== access.clientId) {
    throw new LeaseholdError(
      'LEASE_NOT_OWNED',
      `lease "${access.leaseId}" was granted to another client id; only that client may use it`,
    );
  }
  return found;
}

/** Throws the reason a lease cannot be renewed at `now`, if there is one. */
export function assertRenewable(lease: Lease, license: InstalledLicense | undefined, now: number): void {
  if (lease.endReason === 'released') throw new LeaseholdError('LEASE_RELEASED');
  if (lease.endReason === 'revoked' || (lease.revokedAt !== undefined && holdsSeat(lease, now))) {
    throw new LeaseholdError('LEASE_REVOKED');
  }
  if (!holdsSeat(lease, now)) throw new LeaseholdError('LEASE_EXPIRED');
  if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
  const unusable = licenseUnusableReason(license, now);
  if (unusable) throw new LeaseholdError(unusable, license.refusal?.detail);
  if (lease.slot >= seatsFor(license, lease.feature)) {
    throw new LeaseholdError('LEASE_REVOKED', 'the license was re-issued with fewer seats; check out again');
  }
}

/**
 * Which licenses a checkout may draw from, best first, or the error to give when none may. A named
 * license must exist, be usable and grant the feature; otherwise every usable license granting it counts,
 * the one expiring first first (use it up before it lapses).
 */
export function checkoutCandidates(
  licenses: readonly InstalledLicense[],
  feature: string,
  licenseId: string | undefined,
  now: number,
): InstalledLicense[] {
  if (licenseId !== undefined) {
    const license = licenses.find((l) => l.id === licenseId);
    if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${licenseId}" is installed`);
    const unusable = licenseUnusableReason(license, now);
    if (unusable) throw new LeaseholdError(unusable, license.refusal?.detail);
    if (seatsFor(license, feature) === 0) {
      throw new LeaseholdError('FEATURE_NOT_LICENSED', `license "${licenseId}" does not grant "${feature}"`);
    }
    return [license];
  }
  const granting = licenses.filter((l) => seatsFor(l, feature) > 0);
  if (granting.length === 0) {
    throw new LeaseholdError('FEATURE_NOT_LICENSED', `no installed license grants "${feature}"`);
  }
  const usable = granting.filter((l) => licenseUnusableReason(l, now) === undefined);
  if (usable.length === 0) {
    const first = granting[0];
    throw new LeaseholdError(
      first ? (licenseUnusableReason(first, now) ?? 'LICENSE_EXPIRED') : 'LICENSE_EXPIRED',
      first?.refusal?.detail,
    );
  }
  return usable.sort((a, b) => a.expiresAt - b.expiresAt || a.id.localeCompare(b.id));
}

export function seatsExhausted(feature: string, seats: number): LeaseholdError {
  return new LeaseholdError('SEATS_EXHAUSTED', `all ${seats} seats of "${feature}" are in use`, {
    feature,
    seats,
  });
}
