import { randomUUID } from 'node:crypto';
import type { Lease } from '@leasehold/domain';
import { DEFAULT_LIST_LIMIT, type LeaseStore, leaseCursor } from '@leasehold/store';
import { beforeEach, describe, expect, it } from 'vitest';
import { client, license, T0 } from './fixtures.js';

/**
 * Issue 14 items 2 and 3, for every backend: renewing many leases in one call (each lease's answer its
 * own), the sweep along the deadline index, and listings paged by cursor. Part of the contract suite.
 */
export function describeRenewAndListingContract(store: () => LeaseStore): void {
  const checkout = async (requestId: string, now = T0, feature = 'solver', clientId = requestId) =>
    (
      await store().acquireSeat({
        leaseId: randomUUID(),
        requestId,
        feature,
        client: client(clientId),
        now,
      })
    ).lease;

  /** Every page of a listing, by following the cursor of each page's last lease. */
  const allPages = async (
    query: { now: number; includeEnded?: boolean; feature?: string },
    limit: number,
  ) => {
    const pages: Lease[][] = [];
    let after: string | undefined;
    for (let round = 0; round < 100; round++) {
      const page = await store().listLeases({ ...query, limit, after });
      pages.push(page);
      const last = page.at(-1);
      if (page.length < limit || !last) return pages;
      after = leaseCursor(last, query.includeEnded === true);
    }
    throw new Error('the listing did not end within 100 pages');
  };

  describe('renewing many leases at once', () => {
    beforeEach(async () => {
      await store().installLicense(await license({ seats: { solver: 50, viewer: 2 } }), T0);
      await store().installLicense(await license({ id: 'lic-2', seats: { other: 2 } }), T0);
    });

    it('renews each lease on its own: one refusal fails only its own lease', async () => {
      const [a, b, released] = [await checkout('a'), await checkout('b'), await checkout('c')];
      const foreign = await checkout('d', T0, 'other');
      await store().releaseSeat({ leaseId: released.id, now: T0 + 10 });
      const now = T0 + 30_000;
      const outcomes = await store().renewLeases([
        { leaseId: a.id, now },
        { leaseId: released.id, now },
        { leaseId: 'missing', now },
        { leaseId: foreign.id, licenseId: 'lic-1', now }, // a client scope hides other licenses' leases
        { leaseId: b.id, now },
      ]);
      expect(outcomes.map((o) => (o.ok ? o.lease.id : o.error.code))).toEqual([
        a.id,
        'LEASE_RELEASED',
        'LEASE_NOT_FOUND',
        'LEASE_NOT_FOUND',
        b.id,
      ]);
      for (const id of [a.id, b.id]) {
        const stored = await store().getLease(id);
        expect([stored?.renewedAt, stored?.expiresAt]).toEqual([now, now + 60_000]);
      }
      expect((await store().getLease(foreign.id))?.renewedAt).toBe(T0);
    });

    it('an expired lease answers LEASE_EXPIRED beside renewals that succeed, and nothing is shortened', async () => {
      const early = await checkout('early', T0);
      const later = await checkout('later', T0 + 20_000);
      const outcomes = await store().renewLeases([
        { leaseId: early.id, now: T0 + 60_000 },
        { leaseId: later.id, now: T0 + 60_000 },
      ]);
      expect(outcomes.map((o) => (o.ok ? o.lease.reservedUntil : o.error.code))).toEqual([
        'LEASE_EXPIRED',
        T0 + 120_000,
      ]);
      const stale = await store().renewLeases([{ leaseId: later.id, now: T0 + 1 }]);
      expect(stale[0]?.ok && stale[0].lease.reservedUntil).toBe(T0 + 120_000);
    });

    it('renews 40 leases in one call, and the sweep then follows their new deadlines', async () => {
      const leases = [];
      for (let i = 0; i < 40; i++) leases.push(await checkout(`r${i}`));
      const outcomes = await store().renewLeases(leases.map((l) => ({ leaseId: l.id, now: T0 + 40_000 })));
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(await store().expireLeases(T0 + 60_000, 1000)).toEqual([]);
      expect((await store().listLeases({ now: T0 + 60_000, feature: 'solver' })).length).toBe(40);
      expect((await store().expireLeases(T0 + 100_000, 1000)).length).toBe(40);
    });

    it('refuses a lease named twice (a caller mistake) and answers an empty call with nothing', async () => {
      const a = await checkout('a');
      await expect(
        store().renewLeases([
          { leaseId: a.id, now: T0 },
          { leaseId: a.id, now: T0 },
        ]),
      ).rejects.toThrow(TypeError);
      expect(await store().renewLeases([])).toEqual([]);
    });
  });

  describe('the sweep by deadline', () => {
    beforeEach(async () => {
      await store().installLicense(await license({ seats: { solver: 50 } }), T0);
    });

    it('expires the earliest deadlines first, at most `limit` per sweep, and never a live lease', async () => {
      const leases = [];
      for (let i = 0; i < 6; i++) leases.push(await checkout(`r${i}`, T0 + i * 1000));
      const live = await checkout('live', T0 + 50_000);
      const now = T0 + 60_000 + 4_000; // the first five are overdue
      const first = await store().expireLeases(now, 2);
      expect(first.map((l) => l.requestId)).toEqual(['r0', 'r1']);
      const rest = await store().expireLeases(now, 100);
      expect(rest.map((l) => l.requestId)).toEqual(['r2', 'r3', 'r4']);
      expect(rest.map((l) => l.endedAt)).toEqual([T0 + 62_000, T0 + 63_000, T0 + 64_000]);
      expect(await store().expireLeases(now, 100)).toEqual([]);
      expect((await store().getLease(live.id))?.endReason).toBeUndefined();
      expect((await store().getLease(leases[5]?.id ?? ''))?.endReason).toBeUndefined();
    });
  });

  describe('listings by cursor', () => {
    beforeEach(async () => {
      await store().installLicense(await license({ seats: { solver: 50, viewer: 20 } }), T0);
    });

    it('pages live leases in deadline order, by cursor, to the same list as one call', async () => {
      for (let i = 0; i < 7; i++) await checkout(`s${i}`, T0 + (7 - i) * 100, i % 2 ? 'viewer' : 'solver');
      const whole = await store().listLeases({ now: T0 + 1000 });
      expect(whole.map((l) => l.requestId)).toEqual(['s6', 's5', 's4', 's3', 's2', 's1', 's0']);
      const pages = await allPages({ now: T0 + 1000 }, 3);
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(whole);
      const viewers = await allPages({ now: T0 + 1000, feature: 'viewer' }, 2);
      expect(viewers.flat().map((l) => l.requestId)).toEqual(['s5', 's3', 's1']);
    });

    it('a lease renewed between two pages shows again later, and none is skipped', async () => {
      const leases = [];
      for (let i = 0; i < 4; i++) leases.push(await checkout(`m${i}`, T0 + i * 100));
      const first = await store().listLeases({ now: T0 + 500, limit: 2 });
      await store().renewLease({ leaseId: leases[0]?.id ?? '', now: T0 + 500 });
      const last = first.at(-1) as Lease;
      const second = await store().listLeases({ now: T0 + 500, limit: 10, after: leaseCursor(last, false) });
      expect(first.map((l) => l.requestId)).toEqual(['m0', 'm1']);
      expect(second.map((l) => l.requestId)).toEqual(['m2', 'm3', 'm0']);
    });

    it('pages every lease with ended ones by id, and refuses a cursor of another listing', async () => {
      const leases = [];
      for (let i = 0; i < 5; i++) leases.push(await checkout(`e${i}`));
      await store().releaseSeat({ leaseId: leases[1]?.id ?? '', now: T0 + 1 });
      const pages = await allPages({ now: T0 + 2, includeEnded: true }, 2);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat().map((l) => l.id)).toEqual(leases.map((l) => l.id).sort());
      expect((await store().listLeases({ now: T0 + 2 })).length).toBe(4);
      const liveCursor = leaseCursor(leases[0] as Lease, false);
      for (const [after, includeEnded] of [
        [liveCursor, true],
        [leaseCursor(leases[0] as Lease, true), false],
        ['not-a-cursor', false],
      ] as const) {
        const err = await store()
          .listLeases({ now: T0, after, includeEnded })
          .catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('VALIDATION_FAILED');
      }
      expect(DEFAULT_LIST_LIMIT).toBe(1000);
    });
  });
}
