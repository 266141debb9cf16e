import { holdsSeat, leaseState } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { beforeEach, describe, expect, it } from 'vitest';
import { contractCheckout, expectCode } from './contract-support.js';
import { license, T0 } from './fixtures.js';

/**
 * Renewal, check-in and expiry: deadlines, the sweep, force-release, grace policies, license changes under
 * live leases, usage and purge. Part of the contract suite.
 */
export function describeLeaseLifecycleContract(getStore: () => LeaseStore): void {
  const checkout = contractCheckout(getStore);

  describe('renewal, check-in and expiry', () => {
    beforeEach(async () => {
      await getStore().installLicense(await license(), T0);
    });

    it('renewal extends from the send time and never shortens', async () => {
      const { lease } = await checkout('r1');
      const renewed = await getStore().renewLease({ leaseId: lease.id, now: T0 + 30_000 });
      expect(renewed.expiresAt).toBe(T0 + 90_000);
      expect(renewed.renewedAt).toBe(T0 + 30_000);
      expect(renewed.fence).toBe(lease.fence);
      const stale = await getStore().renewLease({ leaseId: lease.id, now: T0 + 1000 });
      expect(stale.expiresAt).toBe(T0 + 90_000);
      expect((await getStore().getLease(lease.id))?.expiresAt).toBe(T0 + 90_000);
    });

    it('a lease that is not renewed frees its seat at its deadline, by itself', async () => {
      const leases = [];
      for (let i = 0; i < 3; i++) leases.push((await checkout(`r${i}`, `c${i}`)).lease);
      await expectCode(checkout('x', 'cx', T0 + 59_999), 'SEATS_EXHAUSTED');
      const next = await checkout('y', 'cy', T0 + 60_000);
      expect(leases.map((l) => l.slot)).toContain(next.lease.slot);
      expect(next.lease.fence).toBeGreaterThan(Math.max(...leases.map((l) => l.fence)));
      for (const lease of leases) {
        await expectCode(getStore().renewLease({ leaseId: lease.id, now: T0 + 60_000 }), 'LEASE_EXPIRED');
        const stored = await getStore().getLease(lease.id);
        expect(stored && leaseState(stored, T0 + 60_000)).toBe('expired');
      }
    });

    it('the sweep marks overdue leases expired and reports each once', async () => {
      const { lease } = await checkout('r1');
      expect(await getStore().expireLeases(T0 + 59_999, 100)).toEqual([]);
      const swept = await getStore().expireLeases(T0 + 60_000, 100);
      expect(swept.map((l) => [l.id, l.endReason, l.endedAt])).toEqual([[lease.id, 'expired', T0 + 60_000]]);
      expect(await getStore().expireLeases(T0 + 70_000, 100)).toEqual([]);
    });

    it('check-in frees the seat at once and is idempotent', async () => {
      for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
      const held = await getStore().listLeases({ now: T0 });
      const released = await getStore().releaseSeat({ leaseId: held[0]!.id, now: T0 + 5 });
      expect(released.endReason).toBe('released');
      expect((await getStore().releaseSeat({ leaseId: held[0]!.id, now: T0 + 6 })).endedAt).toBe(T0 + 5);
      await expectCode(getStore().renewLease({ leaseId: held[0]!.id, now: T0 + 7 }), 'LEASE_RELEASED');
      expect((await checkout('r9', 'c9', T0 + 8)).lease.slot).toBe(held[0]!.slot);
      await expectCode(getStore().releaseSeat({ leaseId: 'missing', now: T0 }), 'LEASE_NOT_FOUND');
    });

    it('a client scope hides leases of other licenses', async () => {
      const { lease } = await checkout('r1');
      await expectCode(
        getStore().renewLease({ leaseId: lease.id, licenseId: 'other', now: T0 }),
        'LEASE_NOT_FOUND',
      );
      await expectCode(
        getStore().releaseSeat({ leaseId: lease.id, licenseId: 'other', now: T0 }),
        'LEASE_NOT_FOUND',
      );
      expect((await getStore().renewLease({ leaseId: lease.id, licenseId: 'lic-1', now: T0 })).id).toBe(
        lease.id,
      );
    });

    it('force-release stops renewals and keeps the seat until the last token lapses, or frees it now', async () => {
      for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
      const [a, b] = await getStore().listLeases({ now: T0 });
      const soft = await getStore().forceRelease({ leaseId: a!.id, immediate: false, now: T0 + 10 });
      expect(soft.revokedAt).toBe(T0 + 10);
      expect(holdsSeat(soft, T0 + 10)).toBe(true);
      await expectCode(getStore().renewLease({ leaseId: a!.id, now: T0 + 20 }), 'LEASE_REVOKED');
      await expectCode(checkout('x', 'cx', T0 + 20), 'SEATS_EXHAUSTED');
      const hard = await getStore().forceRelease({ leaseId: b!.id, immediate: true, now: T0 + 30 });
      expect(hard.endReason).toBe('revoked');
      expect((await checkout('y', 'cy', T0 + 31)).lease.slot).toBe(b!.slot);
      await expectCode(checkout('z', 'cz', T0 + 59_999), 'SEATS_EXHAUSTED');
      expect((await getStore().listLeases({ now: T0 + 60_000 })).map((l) => l.requestId)).toEqual(['y']);
    });

    it('strict grace keeps the seat reserved through the grace period; overdraft frees it at expiry', async () => {
      await getStore().installLicense(
        await license({
          id: 'strict',
          seats: { s: 1 },
          lease: { ttlMs: 60_000, graceMs: 30_000, policy: 'strict' },
        }),
        T0,
      );
      await getStore().installLicense(
        await license({
          id: 'over',
          seats: { o: 1 },
          lease: { ttlMs: 60_000, graceMs: 30_000, policy: 'overdraft' },
        }),
        T0,
      );
      const s = await checkout('s1', 'a', T0, 's');
      expect([s.lease.expiresAt, s.lease.reservedUntil, s.lease.graceMs]).toEqual([
        T0 + 60_000,
        T0 + 90_000,
        30_000,
      ]);
      await expectCode(checkout('s2', 'b', T0 + 89_999, 's'), 'SEATS_EXHAUSTED');
      expect((await getStore().renewLease({ leaseId: s.lease.id, now: T0 + 80_000 })).reservedUntil).toBe(
        T0 + 170_000,
      );
      const o = await checkout('o1', 'a', T0, 'o');
      expect(o.lease.reservedUntil).toBe(T0 + 60_000);
      expect((await checkout('o2', 'b', T0 + 60_000, 'o')).lease.slot).toBe(0);
    });

    it('no lease outlives its license', async () => {
      await getStore().installLicense(
        await license({ id: 'ending', expiresAt: T0 + 10_000, seats: { e: 1 } }),
        T0,
      );
      const { lease } = await checkout('e1', 'a', T0, 'e');
      expect(lease.expiresAt).toBe(T0 + 10_000);
      await expectCode(
        getStore().renewLease({ leaseId: lease.id, now: T0 + 9_000 + 1_000 }),
        'LEASE_EXPIRED',
      );
    });

    it('a license re-issued with fewer seats stops renewals of the surplus and grants none beyond', async () => {
      for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
      await getStore().installLicense(await license({ version: 2, seats: { solver: 1 } }), T0 + 1);
      const live = await getStore().listLeases({ now: T0 + 1 });
      const surplus = live.filter((l) => l.slot >= 1);
      for (const l of surplus)
        await expectCode(getStore().renewLease({ leaseId: l.id, now: T0 + 2 }), 'LEASE_REVOKED');
      await getStore().releaseSeat({ leaseId: live.find((l) => l.slot === 0)!.id, now: T0 + 3 });
      await expectCode(checkout('r9', 'c9', T0 + 4), 'SEATS_EXHAUSTED');
      expect((await checkout('r10', 'c10', T0 + 60_000)).lease.slot).toBe(0);
    });

    it('reports seat usage and lists live or all leases; purges old ended ones', async () => {
      const a = await checkout('r1', 'c1');
      await checkout('r2', 'c2');
      await getStore().releaseSeat({ leaseId: a.lease.id, now: T0 + 1 });
      expect(await getStore().seatUsage(T0 + 2)).toEqual([
        { licenseId: 'lic-1', feature: 'solver', seats: 3, inUse: 1 },
      ]);
      expect((await getStore().listLeases({ now: T0 + 2 })).length).toBe(1);
      expect((await getStore().listLeases({ now: T0 + 2, includeEnded: true })).length).toBe(2);
      expect(await getStore().purgeEndedLeases(T0 + 2)).toBe(1);
      expect(await getStore().getLease(a.lease.id)).toBeUndefined();
    });
  });
}
