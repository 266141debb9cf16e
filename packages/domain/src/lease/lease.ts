/** Who holds a seat. `id` is the client's stable identity (one install, one machine, one container). */
export interface ClientInfo {
  readonly id: string;
  readonly host?: string | undefined;
  readonly user?: string | undefined;
}

export type LeaseEndReason = 'released' | 'expired' | 'revoked';
export type LeaseState = 'active' | LeaseEndReason;

/**
 * A floating seat lent to one client. Times are epoch milliseconds, decided by the store's clock.
 *
 * - `expiresAt`: the token's expiry; the client must renew before it.
 * - `reservedUntil`: the instant the store frees the seat unless renewed. Never earlier than
 *   `expiresAt` (so no seat goes to a second client while the first one's token is valid); later by the
 *   grace period under the strict policy.
 * - `fence`: the store revision of the grant; it never decreases, and grows with every grant of one slot
 *   (grants of different slots committed together on etcd may share it); a holder with a lower fence for
 *   the same slot is stale.
 */
export interface Lease {
  readonly id: string;
  readonly licenseId: string;
  readonly feature: string;
  readonly slot: number;
  readonly fence: number;
  readonly client: ClientInfo;
  readonly requestId: string;
  readonly createdAt: number;
  readonly renewedAt: number;
  readonly expiresAt: number;
  readonly reservedUntil: number;
  readonly graceMs: number;
  /** Set by an operator's force-release: renewals stop, the seat frees at `reservedUntil` (or now). */
  readonly revokedAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: LeaseEndReason | undefined;
  /** The node that granted it, for operators (`leasehold leases list`); absent on older records. */
  readonly grantedBy?: string | undefined;
}

/** A lease holds its seat until it ends or its reservation runs out — whichever is first. */
export function leaseState(lease: Lease, now: number): LeaseState {
  if (lease.endReason !== undefined) return lease.endReason;
  if (now >= lease.reservedUntil) return 'expired';
  if (lease.revokedAt !== undefined) return 'revoked';
  return 'active';
}

export function holdsSeat(lease: Lease, now: number): boolean {
  return lease.endReason === undefined && now < lease.reservedUntil;
}
