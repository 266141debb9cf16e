/** A lease as the fake cluster stores it. Times are epoch milliseconds of the cluster's clock. */
export interface FakeLease {
  readonly id: string;
  readonly requestId: string;
  readonly clientId: string;
  /** The node that granted it (`node-<n>`, as the server's `grantedBy`). */
  readonly grantedBy: string;
  readonly feature: string;
  readonly slot: number;
  readonly fence: number;
  readonly createdAt: number;
  readonly renewedAt: number;
  readonly expiresAt: number;
  readonly reservedUntil: number;
  readonly revokedAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: 'released' | 'expired' | 'revoked' | undefined;
}

/** A stored lease, which the cluster's operations change in place. */
export type MutableLease = { -readonly [K in keyof FakeLease]: FakeLease[K] };

/** The problem code a replayed checkout of an ended lease answers with. */
export const ENDED = {
  expired: 'LEASE_EXPIRED',
  released: 'LEASE_RELEASED',
  revoked: 'LEASE_REVOKED',
} as const;

/** A lease's state at `now`, as the server computes it. */
export function leaseState(lease: FakeLease, now: number): 'active' | 'expired' | 'released' | 'revoked' {
  if (lease.endReason !== undefined) return lease.endReason;
  if (now >= lease.reservedUntil) return 'expired';
  if (lease.revokedAt !== undefined) return 'revoked';
  return 'active';
}

/** Whether the lease still holds its seat at `now` (not ended, reservation not over). */
export function holdsSeat(lease: FakeLease, now: number): boolean {
  return lease.endReason === undefined && now < lease.reservedUntil;
}

/** The lease as the server's API shows it (http/views.ts), at `now`; the hand-copies test keeps them in step. */
export function fakeLeaseView(
  lease: FakeLease,
  licenseId: string,
  graceMs: number,
  now: number,
): Record<string, unknown> {
  const renewAfter = lease.renewedAt + Math.floor((lease.expiresAt - lease.renewedAt) / 3);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: lease.id,
    license: licenseId,
    feature: lease.feature,
    state: leaseState(lease, now),
    slot: lease.slot,
    fence: lease.fence,
    client: { id: lease.clientId },
    requestId: lease.requestId,
    createdAt: iso(lease.createdAt),
    renewedAt: iso(lease.renewedAt),
    expiresAt: iso(lease.expiresAt),
    reservedUntil: iso(lease.reservedUntil),
    renewAfter: iso(renewAfter),
    ttlSeconds: (lease.expiresAt - lease.renewedAt) / 1000,
    renewInSeconds: Math.max(0, renewAfter - now) / 1000,
    graceSeconds: Math.floor(graceMs / 1000),
    ...(lease.revokedAt === undefined ? {} : { revokedAt: iso(lease.revokedAt) }),
    // As the server's view: ended once it no longer holds its seat, not when revoked.
    ...(holdsSeat(lease, now) ? {} : { endedAt: iso(lease.endedAt ?? lease.reservedUntil) }),
    grantedBy: lease.grantedBy,
  };
}
