import { randomUUID } from 'node:crypto';
import { holdsSeat, LeaseholdError, leaseState } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeClockMarginContract } from './clock-margin-contract.js';
import { client, DAY, license, T0 } from './fixtures.js';
import { describeRenewAndListingContract } from './renew-and-listing-contract.js';
import { describeSeatModel } from './seat-model.js';

/** Store options a contract case may ask its backend for (the rest is the backend's test default). */
export interface ContractStoreOptions {
  readonly maxClockSkewMs?: number;
}

export type StoreFactory = (options?: ContractStoreOptions) => Promise<LeaseStore>;

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(LeaseholdError);
  expect((err as LeaseholdError).code).toBe(code);
}

/**
 * The store contract: every backend of the store port runs this suite unchanged (as undici runs one
 * suite against every cache store). It pins behaviour, not implementation.
 */
export function describeLeaseStoreContract(backend: string, open: StoreFactory): void {
  describe(`LeaseStore contract: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const checkout = (requestId: string, clientId = 'c1', now = T0, feature = 'solver', licenseId?: string) =>
      store.acquireSeat({
        leaseId: randomUUID(),
        requestId,
        feature,
        licenseId,
        client: client(clientId),
        now,
      });

    describe('licenses', () => {
      it('installs, keeps the same file idempotently, upgrades and refuses replays', async () => {
        const v1 = await license();
        expect((await store.installLicense(v1, T0)).outcome).toBe('installed');
        expect((await store.installLicense(v1, T0)).outcome).toBe('unchanged');
        const v2 = await license({ version: 2, seats: { solver: 5 } });
        const up = await store.installLicense(v2, T0);
        expect(up.outcome).toBe('upgraded');
        expect(up.license.entitlements).toEqual([{ feature: 'solver', seats: 5 }]);
        await expectCode(store.installLicense(v1, T0), 'LICENSE_REPLAYED');
        await expectCode(store.installLicense(await license({ version: 2 }), T0), 'LICENSE_REPLAYED');
        expect((await store.getLicense('lic-1'))?.version).toBe(2);
        expect((await store.listLicenses()).map((l) => l.id)).toEqual(['lic-1']);
      });

      it('revocation stops checkouts and renewals at once; a higher version reinstates', async () => {
        await store.installLicense(await license(), T0);
        const { lease } = await checkout('r1');
        const revoked = await store.revokeLicense('lic-1', T0 + 1);
        expect(revoked.revokedAt).toBe(T0 + 1);
        expect((await store.revokeLicense('lic-1', T0 + 2)).revokedAt).toBe(T0 + 1);
        await expectCode(checkout('r2', 'c2', T0 + 2), 'LICENSE_REVOKED');
        await expectCode(store.renewLease({ leaseId: lease.id, now: T0 + 2 }), 'LICENSE_REVOKED');
        await store.installLicense(await license({ version: 2 }), T0 + 3);
        expect((await checkout('r3', 'c3', T0 + 3)).lease.licenseId).toBe('lic-1');
        await expectCode(store.revokeLicense('nope', T0), 'LICENSE_NOT_FOUND');
      });
    });

    describe('checkout', () => {
      beforeEach(async () => {
        await store.installLicense(await license(), T0);
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
        await store.installLicense(await license({ id: 'lic-2' }), T0);
        expect((await checkout('same', 'c2')).lease.licenseId).toBe('lic-2');
      });

      it('keeps idempotency keys per license: one (client, request id) under two licenses is two leases', async () => {
        await store.installLicense(await license({ id: 'lic-2' }), T0);
        const one = await checkout('shared', 'c1', T0, 'solver', 'lic-1');
        const two = await checkout('shared', 'c1', T0, 'solver', 'lic-2');
        expect([one.replayed, two.replayed]).toEqual([false, false]);
        expect([one.lease.licenseId, two.lease.licenseId]).toEqual(['lic-1', 'lic-2']);
        expect(two.lease.id).not.toBe(one.lease.id);
        // Within one license it is still one lease; a checkout naming no license sees both licenses' keys.
        expect((await checkout('shared', 'c1', T0, 'solver', 'lic-2')).lease.id).toBe(two.lease.id);
        expect([one.lease.id, two.lease.id]).toContain((await checkout('shared', 'c1')).lease.id);
        // A conflict says nothing about the earlier checkout's license.
        await store.installLicense(await license({ id: 'lic-3', seats: { other: 1 } }), T0);
        const conflict = await checkout('shared', 'c1', T0, 'other').catch((e: Error) => e);
        expect((conflict as LeaseholdError).code).toBe('REQUEST_ID_CONFLICT');
        expect((conflict as Error).message).not.toMatch(/lic-/);
      });

      it('lets only the client a lease was granted to renew or release it', async () => {
        const { lease } = await checkout('own', 'owner');
        for (const call of [store.renewLease, store.releaseSeat]) {
          await expectCode(
            call.call(store, { leaseId: lease.id, clientId: 'intruder', now: T0 + 1 }),
            'LEASE_NOT_OWNED',
          );
        }
        expect((await store.getLease(lease.id))?.renewedAt).toBe(T0);
        await expectCode(
          store.renewLease({ leaseId: lease.id, licenseId: 'lic-2', clientId: 'owner', now: T0 + 1 }),
          'LEASE_NOT_FOUND',
        );
        expect(
          (await store.renewLease({ leaseId: lease.id, clientId: 'owner', now: T0 + 1 })).renewedAt,
        ).toBe(T0 + 1);
        const released = await store.releaseSeat({ leaseId: lease.id, clientId: 'owner', now: T0 + 2 });
        expect(released.endReason).toBe('released');
      });

      it('refuses unknown features and licenses, and licenses outside their dates', async () => {
        await expectCode(checkout('a', 'c', T0, 'nope'), 'FEATURE_NOT_LICENSED');
        await expectCode(checkout('b', 'c', T0, 'solver', 'missing'), 'LICENSE_NOT_FOUND');
        await expectCode(checkout('c', 'c', T0 + 400 * DAY), 'LICENSE_EXPIRED');
        await store.installLicense(
          await license({ id: 'later', notBefore: T0 + DAY, seats: { later: 1 } }),
          T0,
        );
        await expectCode(checkout('d', 'c', T0, 'later'), 'LICENSE_NOT_YET_VALID');
        await expectCode(checkout('e', 'c', T0, 'later', 'lic-1'), 'FEATURE_NOT_LICENSED');
      });

      it('draws on every license that grants the feature, the first to expire first', async () => {
        await store.installLicense(
          await license({ id: 'short', expiresAt: T0 + DAY, seats: { solver: 1 } }),
          T0,
        );
        const a = await checkout('a', 'ca');
        expect(a.lease.licenseId).toBe('short');
        for (const r of ['b', 'c', 'd']) expect((await checkout(r, `c${r}`)).lease.licenseId).toBe('lic-1');
        await expectCode(checkout('e', 'ce'), 'SEATS_EXHAUSTED');
      });

      it('never grants more than the seat count under 200 concurrent checkouts', async () => {
        await store.installLicense(await license({ id: 'pool', seats: { pool: 10 } }), T0);
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
        expect((await store.listLeases({ now: T0, feature: 'pool' })).length).toBe(10);
      });
      // On etcd this runs through group commit (txn-batcher.ts): checkouts, renewals and check-ins of one
      // node gathered into shared transactions. Two licenses grant `shared` (two overlapping pools, one
      // large enough for the one-round-trip checkout); every result must be what some one-by-one order
      // gives: no pool past its seats, one lease per request id, renewals and check-ins of their own lease.
      it('many concurrent checkouts, renewals and check-ins on overlapping pools keep every pool within its seats', async () => {
        await store.installLicense(await license({ id: 'small', seats: { shared: 4 } }), T0);
        await store.installLicense(await license({ id: 'large', seats: { shared: 70, other: 2 } }), T0);
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
            .map((l) => retrying(() => store.renewLease({ leaseId: l.id, now: T0 + 1000 }))),
          ...granted
            .slice(half)
            .map((l) => retrying(() => store.releaseSeat({ leaseId: l.id, now: T0 + 1000 }))),
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
        expect((await store.listLeases({ now: T0 + 3000, feature: 'shared' })).length).toBe(74);
      });
    });

    describe('large pools', () => {
      it('fills a 100-seat pool exactly, then reuses expired seats', async () => {
        await store.installLicense(await license({ id: 'big', seats: { big: 100 } }), T0);
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
        expect((await store.listLeases({ now: T0 + 60_000, feature: 'big' })).length).toBe(100);
      });

      it('after a downgrade, leftover leases above the new seat count still count', async () => {
        await store.installLicense(await license({ id: 'big', seats: { big: 100 } }), T0);
        for (let i = 0; i < 100; i++) await checkout(`b${i}`, `c${i}`, T0, 'big');
        await store.installLicense(await license({ id: 'big', version: 2, seats: { big: 70 } }), T0 + 1);
        const live = await store.listLeases({ now: T0 + 2, feature: 'big' });
        const below = live.find((l) => l.slot < 70);
        await store.releaseSeat({ leaseId: below!.id, now: T0 + 2 });
        // 99 live (69 below the new count, 30 above): a free slot below 70 exists, but no seat does.
        await expectCode(checkout('after', 'after', T0 + 3, 'big'), 'SEATS_EXHAUSTED');
        for (const l of live.filter((l) => l.slot >= 70).slice(0, 30)) {
          await store.releaseSeat({ leaseId: l.id, now: T0 + 4 });
        }
        expect((await checkout('now', 'now', T0 + 5, 'big')).lease.slot).toBe(below!.slot);
        await expectCode(checkout('full', 'full', T0 + 6, 'big'), 'SEATS_EXHAUSTED');
      });
    });

    describe('renewal, check-in and expiry', () => {
      beforeEach(async () => {
        await store.installLicense(await license(), T0);
      });

      it('renewal extends from the send time and never shortens', async () => {
        const { lease } = await checkout('r1');
        const renewed = await store.renewLease({ leaseId: lease.id, now: T0 + 30_000 });
        expect(renewed.expiresAt).toBe(T0 + 90_000);
        expect(renewed.renewedAt).toBe(T0 + 30_000);
        expect(renewed.fence).toBe(lease.fence);
        const stale = await store.renewLease({ leaseId: lease.id, now: T0 + 1000 });
        expect(stale.expiresAt).toBe(T0 + 90_000);
        expect((await store.getLease(lease.id))?.expiresAt).toBe(T0 + 90_000);
      });

      it('a lease that is not renewed frees its seat at its deadline, by itself', async () => {
        const leases = [];
        for (let i = 0; i < 3; i++) leases.push((await checkout(`r${i}`, `c${i}`)).lease);
        await expectCode(checkout('x', 'cx', T0 + 59_999), 'SEATS_EXHAUSTED');
        const next = await checkout('y', 'cy', T0 + 60_000);
        expect(leases.map((l) => l.slot)).toContain(next.lease.slot);
        expect(next.lease.fence).toBeGreaterThan(Math.max(...leases.map((l) => l.fence)));
        for (const lease of leases) {
          await expectCode(store.renewLease({ leaseId: lease.id, now: T0 + 60_000 }), 'LEASE_EXPIRED');
          const stored = await store.getLease(lease.id);
          expect(stored && leaseState(stored, T0 + 60_000)).toBe('expired');
        }
      });

      it('the sweep marks overdue leases expired and reports each once', async () => {
        const { lease } = await checkout('r1');
        expect(await store.expireLeases(T0 + 59_999, 100)).toEqual([]);
        const swept = await store.expireLeases(T0 + 60_000, 100);
        expect(swept.map((l) => [l.id, l.endReason, l.endedAt])).toEqual([
          [lease.id, 'expired', T0 + 60_000],
        ]);
        expect(await store.expireLeases(T0 + 70_000, 100)).toEqual([]);
      });

      it('check-in frees the seat at once and is idempotent', async () => {
        for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
        const held = await store.listLeases({ now: T0 });
        const released = await store.releaseSeat({ leaseId: held[0]!.id, now: T0 + 5 });
        expect(released.endReason).toBe('released');
        expect((await store.releaseSeat({ leaseId: held[0]!.id, now: T0 + 6 })).endedAt).toBe(T0 + 5);
        await expectCode(store.renewLease({ leaseId: held[0]!.id, now: T0 + 7 }), 'LEASE_RELEASED');
        expect((await checkout('r9', 'c9', T0 + 8)).lease.slot).toBe(held[0]!.slot);
        await expectCode(store.releaseSeat({ leaseId: 'missing', now: T0 }), 'LEASE_NOT_FOUND');
      });

      it('a client scope hides leases of other licenses', async () => {
        const { lease } = await checkout('r1');
        await expectCode(
          store.renewLease({ leaseId: lease.id, licenseId: 'other', now: T0 }),
          'LEASE_NOT_FOUND',
        );
        await expectCode(
          store.releaseSeat({ leaseId: lease.id, licenseId: 'other', now: T0 }),
          'LEASE_NOT_FOUND',
        );
        expect((await store.renewLease({ leaseId: lease.id, licenseId: 'lic-1', now: T0 })).id).toBe(
          lease.id,
        );
      });

      it('force-release stops renewals and keeps the seat until the last token lapses, or frees it now', async () => {
        for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
        const [a, b] = await store.listLeases({ now: T0 });
        const soft = await store.forceRelease({ leaseId: a!.id, immediate: false, now: T0 + 10 });
        expect(soft.revokedAt).toBe(T0 + 10);
        expect(holdsSeat(soft, T0 + 10)).toBe(true);
        await expectCode(store.renewLease({ leaseId: a!.id, now: T0 + 20 }), 'LEASE_REVOKED');
        await expectCode(checkout('x', 'cx', T0 + 20), 'SEATS_EXHAUSTED');
        const hard = await store.forceRelease({ leaseId: b!.id, immediate: true, now: T0 + 30 });
        expect(hard.endReason).toBe('revoked');
        expect((await checkout('y', 'cy', T0 + 31)).lease.slot).toBe(b!.slot);
        await expectCode(checkout('z', 'cz', T0 + 59_999), 'SEATS_EXHAUSTED');
        expect((await store.listLeases({ now: T0 + 60_000 })).map((l) => l.requestId)).toEqual(['y']);
      });

      it('strict grace keeps the seat reserved through the grace period; overdraft frees it at expiry', async () => {
        await store.installLicense(
          await license({
            id: 'strict',
            seats: { s: 1 },
            lease: { ttlMs: 60_000, graceMs: 30_000, policy: 'strict' },
          }),
          T0,
        );
        await store.installLicense(
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
        expect((await store.renewLease({ leaseId: s.lease.id, now: T0 + 80_000 })).reservedUntil).toBe(
          T0 + 170_000,
        );
        const o = await checkout('o1', 'a', T0, 'o');
        expect(o.lease.reservedUntil).toBe(T0 + 60_000);
        expect((await checkout('o2', 'b', T0 + 60_000, 'o')).lease.slot).toBe(0);
      });

      it('no lease outlives its license', async () => {
        await store.installLicense(
          await license({ id: 'ending', expiresAt: T0 + 10_000, seats: { e: 1 } }),
          T0,
        );
        const { lease } = await checkout('e1', 'a', T0, 'e');
        expect(lease.expiresAt).toBe(T0 + 10_000);
        await expectCode(store.renewLease({ leaseId: lease.id, now: T0 + 9_000 + 1_000 }), 'LEASE_EXPIRED');
      });

      it('a license re-issued with fewer seats stops renewals of the surplus and grants none beyond', async () => {
        for (let i = 0; i < 3; i++) await checkout(`r${i}`, `c${i}`);
        await store.installLicense(await license({ version: 2, seats: { solver: 1 } }), T0 + 1);
        const live = await store.listLeases({ now: T0 + 1 });
        const surplus = live.filter((l) => l.slot >= 1);
        for (const l of surplus)
          await expectCode(store.renewLease({ leaseId: l.id, now: T0 + 2 }), 'LEASE_REVOKED');
        await store.releaseSeat({ leaseId: live.find((l) => l.slot === 0)!.id, now: T0 + 3 });
        await expectCode(checkout('r9', 'c9', T0 + 4), 'SEATS_EXHAUSTED');
        expect((await checkout('r10', 'c10', T0 + 60_000)).lease.slot).toBe(0);
      });

      it('reports seat usage and lists live or all leases; purges old ended ones', async () => {
        const a = await checkout('r1', 'c1');
        await checkout('r2', 'c2');
        await store.releaseSeat({ leaseId: a.lease.id, now: T0 + 1 });
        expect(await store.seatUsage(T0 + 2)).toEqual([
          { licenseId: 'lic-1', feature: 'solver', seats: 3, inUse: 1 },
        ]);
        expect((await store.listLeases({ now: T0 + 2 })).length).toBe(1);
        expect((await store.listLeases({ now: T0 + 2, includeEnded: true })).length).toBe(2);
        expect(await store.purgeEndedLeases(T0 + 2)).toBe(1);
        expect(await store.getLease(a.lease.id)).toBeUndefined();
      });
    });

    describe('signing keys and tokens', () => {
      it('keeps the first signing key any node offers', async () => {
        const first = { kid: 'k1', privatePem: 'pem-1', createdAt: T0 };
        expect(await store.ensureSigningKey(first)).toEqual([first]);
        expect(await store.ensureSigningKey({ kid: 'k2', privatePem: 'pem-2', createdAt: T0 + 1 })).toEqual([
          first,
        ]);
        expect(await store.listSigningKeys()).toEqual([first]);
      });

      it('keeps the first cluster identity key any node offers, apart from the signing keys', async () => {
        const identity = { kid: 'id-1', privatePem: 'identity-pem-1', createdAt: T0 };
        expect(await store.ensureClusterIdentity(identity)).toEqual(identity);
        const other = { kid: 'id-2', privatePem: 'identity-pem-2', createdAt: T0 + 1 };
        expect(await store.ensureClusterIdentity(other)).toEqual(identity);
        expect(await store.listSigningKeys()).toEqual([]);
      });

      it('stores, finds, lists, revokes and replaces tokens by hash', async () => {
        const token = {
          id: 'tok-1',
          hash: 'h1',
          scope: 'client' as const,
          licenseId: 'lic-1',
          name: 'ci',
          createdAt: T0,
          revokedAt: undefined,
        };
        await store.createToken(token);
        expect(await store.findTokenByHash('h1')).toEqual(token);
        expect(await store.findTokenByHash('h2')).toBeUndefined();
        expect((await store.revokeToken('tok-1', T0 + 1)).revokedAt).toBe(T0 + 1);
        await expectCode(store.revokeToken('nope', T0), 'TOKEN_NOT_FOUND');
        const boot = {
          ...token,
          id: 'boot-1',
          hash: 'b1',
          scope: 'admin' as const,
          licenseId: undefined,
          name: 'bootstrap',
        };
        await store.replaceNamedToken(boot);
        expect(await store.replaceNamedToken({ ...boot, id: 'boot-dup' })).toEqual(boot);
        await store.replaceNamedToken({ ...boot, id: 'boot-2', hash: 'b2', createdAt: T0 + 5 });
        expect((await store.findTokenByHash('b1'))?.revokedAt).toBe(T0 + 5);
        expect((await store.findTokenByHash('b2'))?.revokedAt).toBeUndefined();
        expect((await store.listTokens()).map((t) => t.id).sort()).toEqual(['boot-1', 'boot-2', 'tok-1']);
      });
    });

    describeRenewAndListingContract(() => store);
    describeSeatModel(open);
  });
  describeClockMarginContract(backend, open);
}
