import type { GracePolicy, License } from '@leasehold/domain';

export const T0 = Date.UTC(2026, 0, 1);
export const DAY = 86_400_000;

let rawCounter = 0;

/** A verified-license record, as `verifyLicense` would produce; the store never sees crypto. */
export function license(overrides: Partial<License> & { seats?: Record<string, number> } = {}): License {
  const { seats, ...rest } = overrides;
  return {
    id: 'lic-1',
    version: 1,
    issuer: 'vendor',
    customer: 'Acme',
    product: 'cad',
    entitlements: Object.entries(seats ?? { solver: 3 }).map(([feature, n]) => ({ feature, seats: n })),
    issuedAt: T0 - DAY,
    notBefore: T0 - DAY,
    expiresAt: T0 + 365 * DAY,
    lease: { ttlMs: 60_000, graceMs: 0, policy: 'strict' as GracePolicy },
    signedBy: 'kid-vendor',
    raw: `raw-${++rawCounter}`,
    ...rest,
  };
}

export const client = (id: string) => ({ id, host: `${id}.example`, user: `user-${id}` });
