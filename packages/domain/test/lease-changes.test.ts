import {
  type AuditContext,
  endedLease,
  forceReleasedLease,
  grantedLease,
  type InstalledLicense,
  type Lease,
  leaseEndAction,
  leaseEndedEvent,
  leaseGrantedEvent,
  leaseSoftRevokedEvent,
  licenseInstalledEvent,
  licenseRevokedEvent,
  releasedLease,
  renewedLease,
  tokenEvent,
} from '@leasehold/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const T0 = Date.UTC(2026, 5, 1);

const license = (
  policy: 'strict' | 'overdraft' = 'strict',
  expiresAt = T0 + 86_400_000,
): InstalledLicense => ({
  id: 'acme',
  version: 2,
  issuer: 'Vendor',
  customer: 'Acme',
  product: 'cad',
  entitlements: [{ feature: 'solver', seats: 3 }],
  issuedAt: T0 - 1000,
  notBefore: T0 - 1000,
  expiresAt,
  lease: { ttlMs: 60_000, graceMs: 300_000, policy },
  signedBy: 'vendor-key',
  raw: 'jwt',
  installedAt: T0 - 500,
  revokedAt: undefined,
});

const request = {
  leaseId: 'L1',
  feature: 'solver',
  client: { id: 'c1', host: 'h' },
  requestId: 'r1',
  now: T0,
};
const lease: Lease = grantedLease(license(), request, 2, 7);
const ctx: AuditContext = { actor: 'client:t1', node: 'n1' };

describe('lease changes', () => {
  it('grants a lease with the license window from the request time, live and unrevoked', () => {
    expect(lease).toEqual({
      id: 'L1',
      licenseId: 'acme',
      feature: 'solver',
      slot: 2,
      fence: 7,
      client: { id: 'c1', host: 'h' },
      requestId: 'r1',
      createdAt: T0,
      renewedAt: T0,
      expiresAt: T0 + 60_000,
      reservedUntil: T0 + 360_000,
      graceMs: 300_000,
      revokedAt: undefined,
      endedAt: undefined,
      endReason: undefined,
    });
    // A lease never outlives its license.
    expect(grantedLease(license('strict', T0 + 1000), request, 0, 1).expiresAt).toBe(T0 + 1000);
  });

  it('renews from now but never shortens the reservation (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.constantFrom('strict' as const, 'overdraft' as const),
        (later, policy) => {
          const renewed = renewedLease(lease, license(policy), T0 + later);
          expect(renewed.renewedAt).toBe(T0 + later);
          expect(renewed.expiresAt).toBeGreaterThanOrEqual(lease.expiresAt);
          expect(renewed.reservedUntil).toBeGreaterThanOrEqual(lease.reservedUntil);
          expect(renewed.reservedUntil).toBeGreaterThanOrEqual(renewed.expiresAt);
          expect({ ...renewed, renewedAt: 0, expiresAt: 0, reservedUntil: 0 }).toEqual({
            ...lease,
            renewedAt: 0,
            expiresAt: 0,
            reservedUntil: 0,
          });
        },
      ),
    );
  });

  it('a check-in before the deadline releases now; after it, the lease expired at its deadline', () => {
    expect(releasedLease(lease, T0 + 10)).toMatchObject({ endedAt: T0 + 10, endReason: 'released' });
    expect(releasedLease(lease, lease.reservedUntil)).toMatchObject({
      endedAt: lease.reservedUntil,
      endReason: 'expired',
    });
  });

  it('a soft force-release keeps the seat; immediate ends it now; an overdue lease simply expired', () => {
    const soft = forceReleasedLease(lease, T0 + 10, false);
    expect(soft).toMatchObject({ revokedAt: T0 + 10, endReason: undefined, endedAt: undefined });
    expect(forceReleasedLease(lease, T0 + 10, true)).toMatchObject({
      revokedAt: T0 + 10,
      endedAt: T0 + 10,
      endReason: 'revoked',
    });
    // A second force-release keeps the first revocation time (the stored one).
    expect(forceReleasedLease(soft, T0 + 20, true)).toMatchObject({ revokedAt: T0 + 10, endedAt: T0 + 20 });
    expect(forceReleasedLease(lease, lease.reservedUntil + 1, true)).toMatchObject({
      revokedAt: undefined,
      endedAt: lease.reservedUntil,
      endReason: 'expired',
    });
  });

  it('ends a lease at a given time for a given reason, changing nothing else', () => {
    expect(endedLease(lease, T0 + 5, 'revoked')).toEqual({ ...lease, endedAt: T0 + 5, endReason: 'revoked' });
  });
});

describe('audit events of store changes', () => {
  it('records every lease end under its action; an immediate force-release ends as revoked', () => {
    expect(leaseEndAction('released')).toBe('lease.released');
    expect(leaseEndAction('expired')).toBe('lease.expired');
    expect(leaseEndAction('revoked')).toBe('lease.force-released');
  });

  it('names the lease, its pool and slot; the grant adds the client, an immediate end says so', () => {
    const facts = { license: 'acme', feature: 'solver', slot: 2 };
    expect(leaseGrantedEvent(ctx, lease, T0)).toEqual({
      action: 'lease.granted',
      actor: 'client:t1',
      subject: 'lease:L1',
      time: T0,
      node: 'n1',
      details: { ...facts, client: 'c1' },
    });
    expect(leaseEndedEvent(ctx, lease, 'released', T0 + 1).details).toEqual(facts);
    expect(leaseEndedEvent(ctx, lease, 'expired', T0 + 1)).toMatchObject({ action: 'lease.expired' });
    expect(leaseEndedEvent(ctx, lease, 'revoked', T0 + 1)).toMatchObject({
      action: 'lease.force-released',
      details: { ...facts, immediate: true },
    });
    expect(leaseSoftRevokedEvent(ctx, lease, T0 + 1)).toMatchObject({
      action: 'lease.force-released',
      subject: 'lease:L1',
      details: { ...facts, immediate: false },
    });
  });

  it('records license installs by outcome with the version, and revocations without details', () => {
    expect(licenseInstalledEvent(ctx, 'installed', license(), T0)).toMatchObject({
      action: 'license.installed',
      subject: 'license:acme',
      details: { version: 2 },
    });
    expect(licenseInstalledEvent(ctx, 'upgraded', license(), T0).action).toBe('license.upgraded');
    expect(licenseRevokedEvent(ctx, 'acme', T0)).toEqual({
      action: 'license.revoked',
      actor: 'client:t1',
      subject: 'license:acme',
      time: T0,
      node: 'n1',
    });
  });

  it('records a token by id and scope, with license and name only when it has them (never its hash)', () => {
    const bare = { id: 't1', scope: 'operator', licenseId: undefined, name: undefined, hash: 'secret' };
    expect(tokenEvent(ctx, 'token.created', bare, T0)).toMatchObject({
      subject: 'token:t1',
      details: { scope: 'operator' },
    });
    expect(tokenEvent(ctx, 'token.created', bare, T0).details).not.toHaveProperty('hash');
    expect(tokenEvent(ctx, 'token.revoked', { ...bare, licenseId: 'acme', name: 'ci' }, T0)).toMatchObject({
      action: 'token.revoked',
      details: { scope: 'operator', license: 'acme', name: 'ci' },
    });
  });
});
