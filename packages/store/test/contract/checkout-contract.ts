import type { LeaseholdError } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { beforeEach, describe, expect, it } from 'vitest';
import { contractCheckout, expectCode } from './contract-support.js';
import { client, DAY, license, T0 } from './fixtures.js';

/**
 * Checkout: slots and fences, idempotent request ids, ownership, refusals, which license a seat is drawn
 * from, concurrency, large pools and downgrades. Part of the contract suite.
 */
export function describeCheckoutContract(getStore: () => LeaseStore): void {
  const checkout = contractCheckout(getStore);

  describe('checkout', () => {
    beforeEach(async () => {
      await getStore().installLicense(await license(), T0);
    });

    it('grants distinct slots with growing fences up to the seat count, then SEATS_EXHAUSTED', async () => {
      const leases = [];
      for (let i = 0; i < 3; i++) leases.push((await checkout(`r${i}`, `c${i}`)).lease);
      expect(new Set(leases.map((l) => l.slot))).toEqual(new Set([0, 1, 2]));
      const fences = leases.map((l) => l.fence);
      expect([...fences].sort((a, b) => a - b)).toEqual(fences);
      expect(new Set(fences).size).toBe(3);
      await expectCode(checkout('r9', 'c9'), 'SEATS_EXHAUSTED');
      const [first] = leases;
      expect(first?.expiresAt).toBe(T0 + 60_000);
      expect(first?.reservedUntil).toBe(T0 + 60_000);
      expect(first?.client).toEqual(client('c0'));
    });

    it('returns the same lease for a retried request id, even when seats are exhausted', async () => {
      const first = await checkout('same');
      await checkout('r2', 'c2');
      await checkout('r3', 'c3');
      const again = await checkout('same');
      expect(again.replayed).toBe(true);
      expect(again.lease).toEqual(first.lease);
      expect(first.replayed).toBe(false);
      await expectCode(checkout('same', 'c1', T0, 'other'), 'REQUEST_ID_CONFLICT');
      // Request ids are per client: another client may use the same one.
      await getStore().installLicense(await license({ id: 'lic-2' }), T0);
      expect((await checkout('same', 'c2')).lease.licenseId).toBe('lic-2');
    });

    it('keeps idempotency keys per license: one (client, request id) under two licenses is two leases', async () => {
      await getStore().installLicense(await license({ id: 'lic-2' }), T0);
      const one = await checkout('shared', 'c1', T0, 'solver', 'lic-1');
      const two = await checkout('shared', 'c1', T0, 'solver', 'lic-2');
      expect([one.replayed, two.replayed]).toEqual([false, false]);
      expect([one.lease.licenseId, two.lease.licenseId]).toEqual(['lic-1', 'lic-2']);
      expect(two.lease.id).not.toBe(one.lease.id);
      // Within one license it is still one lease; a checkout naming no license sees both licenses' keys.
      expect((await checkout('shared', 'c1', T0, 'solver', 'lic-2')).lease.id).toBe(two.lease.id);
      expect([one.lease.id, two.lease.id]).toContain((await checkout('shared', 'c1')).lease.id);
      // A conflict says nothing about the earlier checkout's license.
      await getStore().installLicense(await license({ id: 'lic-3', seats: { other: 1 } }), T0);
      const conflict = await checkout('shared', 'c1', T0, 'other').catch((e: Error) => e);
      expect((conflict as LeaseholdError).code).toBe('REQUEST_ID_CONFLICT');
      expect((conflict as Error).message).not.toMatch(/lic-/);
    });

    it('lets only the client a lease was granted to renew or release it', async () => {
      const { lease } = await checkout('own', 'owner');
      for (const call of [getStore().renewLease, getStore().releaseSeat]) {
        await expectCode(
          call.call(getStore(), { leaseId: lease.id, clientId: 'intruder', now: T0 + 1 }),
          'LEASE_NOT_OWNED',
        );
      }
      expect((await getStore().getLease(lease.id))?.renewedAt).toBe(T0);
      await expectCode(
        getStore().renewLease({ leaseId: lease.id, licenseId: 'lic-2', clientId: 'owner', now: T0 + 1 }),
        'LEASE_NOT_FOUND',
      );
      expect(
        (await getStore().renewLease({ leaseId: lease.id, clientId: 'owner', now: T0 + 1 })).renewedAt,
      ).toBe(T0 + 1);
      const released = await getStore().releaseSeat({ leaseId: lease.id, clientId: 'owner', now: T0 + 2 });
      expect(released.endReason).toBe('released');
    });

    it('refuses unknown features and licenses, and licenses outside their dates', async () => {
      await expectCode(checkout('a', 'c', T0, 'nope'), 'FEATURE_NOT_LICENSED');
      await expectCode(checkout('b', 'c', T0, 'solver', 'missing'), 'LICENSE_NOT_FOUND');
      await expectCode(checkout('c', 'c', T0 + 400 * DAY), 'LICENSE_EXPIRED');
      await getStore().installLicense(
        await license({ id: 'later', notBefore: T0 + DAY, seats: { later: 1 } }),
        T0,
      );
      await expectCode(checkout('d', 'c', T0, 'later'), 'LICENSE_NOT_YET_VALID');
      await expectCode(checkout('e', 'c', T0, 'later', 'lic-1'), 'FEATURE_NOT_LICENSED');
    });

    it('draws on every license that grants the feature, the first to expire first', async () => {
      await getStore().installLicense(
        await license({ id: 'short', expiresAt: T0 + DAY, seats: { solver: 1 } }),
        T0,
      );
      const a = await checkout('a', 'ca');
      expect(a.lease.licenseId).toBe('short');
      for (const r of ['b', 'c', 'd']) expect((await checkout(r, `c${r}`)).lease.licenseId).toBe('lic-1');
      await expectCode(checkout('e', 'ce'), 'SEATS_EXHAUSTED');
    });

    it('never grants more than the seat count under 200 concurrent checkouts', async () => {
      await getStore().installLicense(await license({ id: 'pool', seats: { pool: 10 } }), T0);
      // A loaded backend may answer some of them with the retryable STORE_UNAVAILABLE (seen on etcd with
      // the machine's two cores busy): the caller retries with the same request id, as a client does,
      // until the answer is definite. Only then are grants and refusals counted.
      const settle = async (i: number) => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await checkout(`r${i}`, `c${i}`, T0, 'pool');
          } catch (err) {
            if ((err as LeaseholdError).code !== 'STORE_UNAVAILABLE' || attempt >= 5) throw err;
          }
        }
      };
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => settle(i)));
      const granted = results.filter((r) => r.status === 'fulfilled');
      const denied = results.filter(
        (r) => r.status === 'rejected' && (r.reason as LeaseholdError).code === 'SEATS_EXHAUSTED',
      );
      expect(granted.length).toBe(10);
      expect(denied.length).toBe(190);
      expect((await getStore().listLeases({ now: T0, feature: 'pool' })).length).toBe(10);
    });
    // On etcd this runs through group commit (txn-batcher.ts): checkouts, renewals and check-ins of one
    // node gathered into shared transactions. Two licenses grant `shared` (two overlapping pools, one
    // large enough for the one-round-trip checkout); every result must be what some one-by-one order
    // gives: no pool past its seats, one lease per request id, renewals and check-ins of their own lease.
    it('many concurrent checkouts, renewals and check-ins on overlapping pools keep every pool within its seats', async () => {
      await getStore().installLicense(await license({ id: 'small', seats: { shared: 4 } }), T0);
      await getStore().installLicense(await license({ id: 'large', seats: { shared: 70, other: 2 } }), T0);
      const retrying = async <T>(op: () => Promise<T>): Promise<T> => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await op();
          } catch (err) {
            if ((err as LeaseholdError).code !== 'STORE_UNAVAILABLE' || attempt >= 5) throw err;
          }
        }
      };
      const round = (n: number, feature: string, prefix: string) =>
        Promise.allSettled(
          Array.from({ length: n }, (_, i) =>
            retrying(() => checkout(`${prefix}${i}`, `c${prefix}${i}`, T0, feature)),
          ),
        );
      const [shared, other] = await Promise.all([round(90, 'shared', 's'), round(5, 'other', 'o')]);
      const granted = shared.flatMap((r) => (r.status === 'fulfilled' ? [r.value.lease] : []));
      expect(granted.length).toBe(74);
      expect(
        shared.filter((r) => r.status === 'rejected').map((r) => (r.reason as LeaseholdError).code),
      ).toEqual(Array(16).fill('SEATS_EXHAUSTED'));
      expect(other.filter((r) => r.status === 'fulfilled').length).toBe(2);
      for (const id of ['small', 'large']) {
        const slots = granted.filter((l) => l.licenseId === id).map((l) => l.slot);
        expect(new Set(slots).size).toBe(slots.length);
        expect(Math.max(...slots)).toBeLessThan(id === 'small' ? 4 : 70);
      }
      // Renew half and check in the other half, all at once; then retry the renewed ones' requests at once.
      const half = granted.length / 2;
      const mixed = await Promise.all([
        ...granted
          .slice(0, half)
          .map((l) => retrying(() => getStore().renewLease({ leaseId: l.id, now: T0 + 1000 }))),
        ...granted
          .slice(half)
          .map((l) => retrying(() => getStore().releaseSeat({ leaseId: l.id, now: T0 + 1000 }))),
      ]);
      for (const [i, lease] of mixed.entries()) {
        expect(lease.id).toBe(granted[i]?.id);
        if (i < half) expect(lease.expiresAt).toBe(T0 + 1000 + 60_000);
        else expect(lease.endReason).toBeDefined();
      }
      const replays = await Promise.all(
        granted
          .slice(0, half)
          .map((l) => retrying(() => checkout(l.requestId, l.client.id, T0 + 2000, 'shared'))),
      );
      expect(replays.map((r) => r.lease.id)).toEqual(granted.slice(0, half).map((l) => l.id));
      expect(replays.every((r) => r.replayed)).toBe(true);
      // The freed seats are taken again, concurrently, and no more.
      const again = await round(half + 10, 'shared', 'again');
      expect(again.filter((r) => r.status === 'fulfilled').length).toBe(half);
      expect((await getStore().listLeases({ now: T0 + 3000, feature: 'shared' })).length).toBe(74);
    });
  });

  describe('large pools', () => {
    it('fills a 100-seat pool exactly, then reuses expired seats', async () => {
      await getStore().installLicense(await license({ id: 'big', seats: { big: 100 } }), T0);
      const first = await Promise.allSettled(
        Array.from({ length: 130 }, (_, i) => checkout(`b${i}`, `c${i}`, T0, 'big')),
      );
      const granted = first.filter((r) => r.status === 'fulfilled').map((r) => r.value.lease);
      expect(granted.length).toBe(100);
      expect(new Set(granted.map((l) => l.slot)).size).toBe(100);
      expect(Math.max(...granted.map((l) => l.slot))).toBeLessThan(100);
      await expectCode(checkout('late', 'late', T0 + 1, 'big'), 'SEATS_EXHAUSTED');
      const later = await Promise.allSettled(
        Array.from({ length: 110 }, (_, i) => checkout(`x${i}`, `d${i}`, T0 + 60_000, 'big')),
      );
      // 110 takeovers of one full pool at once may exhaust a backend's contention budget: that answer is
      // the retryable STORE_UNAVAILABLE, and a client retries it with the same request id.
      let regranted = later.filter((r) => r.status === 'fulfilled').length;
      for (const [i, r] of later.entries()) {
        if (r.status === 'rejected' && (r.reason as LeaseholdError).code === 'STORE_UNAVAILABLE') {
          // Granted now, or by the first attempt whose answer was lost (then this returns that lease).
          const retried = await checkout(`x${i}`, `d${i}`, T0 + 60_000, 'big').then(
            () => true,
            () => false,
          );
          if (retried) regranted++;
        }
      }
      expect(regranted).toBe(100);
      expect((await getStore().listLeases({ now: T0 + 60_000, feature: 'big' })).length).toBe(100);
    });

    it('after a downgrade, leftover leases above the new seat count still count', async () => {
      await getStore().installLicense(await license({ id: 'big', seats: { big: 100 } }), T0);
      for (let i = 0; i < 100; i++) await checkout(`b${i}`, `c${i}`, T0, 'big');
      await getStore().installLicense(await license({ id: 'big', version: 2, seats: { big: 70 } }), T0 + 1);
      const live = await getStore().listLeases({ now: T0 + 2, feature: 'big' });
      const below = live.find((l) => l.slot < 70);
      await getStore().releaseSeat({ leaseId: below!.id, now: T0 + 2 });
      // 99 live (69 below the new count, 30 above): a free slot below 70 exists, but no seat does.
      await expectCode(checkout('after', 'after', T0 + 3, 'big'), 'SEATS_EXHAUSTED');
      for (const l of live.filter((l) => l.slot >= 70).slice(0, 30)) {
        await getStore().releaseSeat({ leaseId: l.id, now: T0 + 4 });
      }
      expect((await checkout('now', 'now', T0 + 5, 'big')).lease.slot).toBe(below!.slot);
      await expectCode(checkout('full', 'full', T0 + 6, 'big'), 'SEATS_EXHAUSTED');
    });
  });
}
