import { randomUUID } from 'node:crypto';
import type { LeaseStore, SeatBlockInput } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, license, T0 } from './fixtures.js';
import { expectCode, type StoreFactory } from './lease-store-contract.js';

const HOLD = 3_000;

/**
 * Seat blocks lent to edge sites (docs/replication.md), against every backend unchanged: a block's seats
 * are leases of the pool, so the pool's count covers seats held at the primary plus every block.
 */
export function describeSeatBlockContract(backend: string, open: StoreFactory): void {
  describe(`seat blocks: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open();
      await store.installLicense(await license({ seats: { solver: 5 } }), T0);
    });
    afterEach(async () => {
      await store.close();
    });

    const hold = (site: string, seats: number, now = T0, requestId: string = randomUUID()) =>
      store.holdSeatBlock({
        site,
        licenseId: 'lic-1',
        feature: 'solver',
        seats,
        holdMs: HOLD,
        requestId,
        now,
        newLeaseId: randomUUID,
      } satisfies SeatBlockInput);
    const checkout = (id: string, now = T0) =>
      store.acquireSeat({ leaseId: randomUUID(), requestId: id, feature: 'solver', client: client(id), now });
    const inUse = async (now: number) =>
      (await store.seatUsage(now)).find((u) => u.feature === 'solver')?.inUse ?? -1;

    it('holds N seats of the pool until now + hold, with no grace, counted like leases', async () => {
      const block = await hold('edge-a', 3);
      expect(block).toMatchObject({ site: 'edge-a', seats: 3, heldUntil: T0 + HOLD });
      expect(block.leaseIds).toHaveLength(3);
      expect(await inUse(T0)).toBe(3);
      await checkout('c1');
      await checkout('c2');
      await expectCode(checkout('c3'), 'SEATS_EXHAUSTED');
      const leases = await store.listLeases({ now: T0, feature: 'solver' });
      const blockLeases = leases.filter((l) => l.client.id === 'edge:edge-a');
      expect(blockLeases.map((l) => [l.expiresAt, l.reservedUntil, l.graceMs])).toEqual(
        Array(3).fill([T0 + HOLD, T0 + HOLD, 0]),
      );
    });

    it('grants a grow in part when the pool has fewer free seats, and never past the license', async () => {
      await checkout('c1');
      await checkout('c2');
      const block = await hold('edge-a', 4);
      expect(block.seats).toBe(3);
      expect(await inUse(T0)).toBe(5);
      const other = await hold('edge-b', 2);
      expect(other.seats).toBe(0);
      expect(other.heldUntil).toBe(T0);
    });

    it('renews the seats it holds, shrinks by giving seats back, and a retry takes no second set', async () => {
      const first = await hold('edge-a', 2, T0, 'req-1');
      const again = await hold('edge-a', 2, T0, 'req-1');
      expect(new Set(again.leaseIds)).toEqual(new Set(first.leaseIds));
      expect(await inUse(T0)).toBe(2);
      const renewed = await hold('edge-a', 2, T0 + 1_000);
      expect(new Set(renewed.leaseIds)).toEqual(new Set(first.leaseIds));
      expect(renewed.heldUntil).toBe(T0 + 1_000 + HOLD);
      const grown = await hold('edge-a', 4, T0 + 1_500);
      expect(grown.seats).toBe(4);
      expect(grown.leaseIds).toEqual(expect.arrayContaining([...first.leaseIds]));
      const shrunk = await hold('edge-a', 1, T0 + 2_000);
      expect(shrunk.seats).toBe(1);
      expect(await inUse(T0 + 2_000)).toBe(1);
      expect(await store.listSeatBlocks(T0 + 2_000)).toEqual([
        expect.objectContaining({ site: 'edge-a', seats: 1, heldUntil: T0 + 2_000 + HOLD }),
      ]);
    });

    it('a renewal moves every seat to its new deadline: the sweep at the old one frees none', async () => {
      // The sweep reads the deadline index (SQLite's partial index, etcd's by-deadline/ keys): were a seat
      // left under its old deadline there, the primary would free it while the edge still lends it.
      await hold('edge-a', 3);
      const renewed = await hold('edge-a', 3, T0 + 2_000);
      expect(renewed.heldUntil).toBe(T0 + 2_000 + HOLD);
      expect(await store.expireLeases(T0 + HOLD, 100)).toEqual([]);
      expect(await inUse(T0 + HOLD)).toBe(3);
      await checkout('c1', T0 + HOLD);
      await checkout('c2', T0 + HOLD);
      await expectCode(checkout('c3', T0 + HOLD), 'SEATS_EXHAUSTED');
      const live = await store.listLeases({ now: T0 + HOLD + 1, feature: 'solver' });
      expect(live.filter((l) => l.client.id === 'edge:edge-a')).toHaveLength(3);
      expect((await store.listSeatBlocks(T0 + HOLD + 1)).map((b) => b.seats)).toEqual([3]);
      const expired = await store.expireLeases(T0 + 2_000 + HOLD, 100);
      expect(expired.filter((l) => l.client.id === 'edge:edge-a')).toHaveLength(3);
      expect(await store.listSeatBlocks(T0 + 2_000 + HOLD)).toEqual([]);
    });

    it('frees a block that is not renewed at its deadline on the store clock, to the millisecond', async () => {
      await hold('edge-a', 5);
      await expectCode(checkout('c1', T0 + HOLD - 1), 'SEATS_EXHAUSTED');
      await checkout('c1', T0 + HOLD);
      // The site comes back after its block ran out: it gets what is free now, as new seats.
      const back = await hold('edge-a', 5, T0 + HOLD + 10);
      expect(back.seats).toBe(4);
      expect(await inUse(T0 + HOLD + 10)).toBe(5);
    });

    it('release gives every seat back at once; blocks of two sites are apart', async () => {
      await hold('edge-a', 2);
      await hold('edge-b', 2);
      const released = await store.releaseSeatBlock({
        site: 'edge-a',
        licenseId: 'lic-1',
        feature: 'solver',
        now: T0 + 1,
      });
      expect(released.seats).toBe(0);
      expect(await inUse(T0 + 1)).toBe(2);
      expect((await store.listSeatBlocks(T0 + 1)).map((b) => [b.site, b.seats])).toEqual([['edge-b', 2]]);
    });

    it('stops at a revoked license with its coded error', async () => {
      await store.revokeLicense('lic-1', T0);
      await expectCode(hold('edge-a', 1, T0 + 1), 'LICENSE_REVOKED');
    });
  });
}
