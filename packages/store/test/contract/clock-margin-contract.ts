import { randomUUID } from 'node:crypto';
import type { LeaseStore } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, license, T0 } from './fixtures.js';
import { expectCode, type StoreFactory } from './lease-store-contract.js';

/** M in these cases: the soak's clock step. */
const MARGIN_MS = 2000;
/** The suite's license: one seat (every takeover is of the one slot), a 60 s lease, no grace. */
const TTL_MS = 60_000;
const R = T0 + TTL_MS;

/**
 * The clock margin (SeatHandOver, docs/ha.md "Expiry"): with `maxClockSkewMs` M, a seat whose lease's
 * `reservedUntil` is R is not handed to another lease before R + M on the acting node's clock — not by a
 * checkout's takeover, not by the sweep, not in seat-usage counts — while the holder's own lease still
 * expires at R (a renewal at R is refused as always). Times are given to each call, as the suite's manual
 * clock; the test that catches a violation is the first `SEATS_EXHAUSTED` expected below failing.
 */
export function describeClockMarginContract(backend: string, open: StoreFactory): void {
  describe(`clock margin (maxClockSkewMs ${MARGIN_MS}): ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open({ maxClockSkewMs: MARGIN_MS });
      await store.installLicense(await license({ seats: { solver: 1 } }), T0);
    });
    afterEach(async () => {
      await store.close();
    });

    const checkout = (requestId: string, clientId: string, now: number) =>
      store.acquireSeat({
        leaseId: randomUUID(),
        requestId,
        feature: 'solver',
        client: client(clientId),
        now,
      });
    const inUse = async (now: number) => (await store.seatUsage(now))[0]?.inUse;

    it('hands the seat to another lease at R + M, not at R or R + M - 1', async () => {
      const { lease } = await checkout('holder', 'c1', T0);
      expect(lease.reservedUntil).toBe(R);
      await expectCode(checkout('early-at-r', 'c2', R), 'SEATS_EXHAUSTED');
      await expectCode(checkout('early-at-r-m-1', 'c2', R + MARGIN_MS - 1), 'SEATS_EXHAUSTED');
      expect((await store.getLease(lease.id))?.endReason).toBeUndefined();
      const next = await checkout('on-time', 'c2', R + MARGIN_MS);
      expect(next.lease.slot).toBe(lease.slot);
      expect(next.lease.client.id).toBe('c2');
      // The takeover ended the holder's lease at its deadline R, as any expiry: the history says when the
      // lease ran out; the margin is when its seat went to someone else.
      expect(await store.getLease(lease.id)).toMatchObject({ endReason: 'expired', endedAt: R });
    });

    it('sweeps the lease at R + M, not at R or R + M - 1', async () => {
      const { lease } = await checkout('holder', 'c1', T0);
      expect(await store.expireLeases(R, 100)).toEqual([]);
      expect(await store.expireLeases(R + MARGIN_MS - 1, 100)).toEqual([]);
      expect((await store.getLease(lease.id))?.endReason).toBeUndefined();
      const swept = await store.expireLeases(R + MARGIN_MS, 100);
      expect(swept.map((l) => [l.id, l.endReason, l.endedAt])).toEqual([[lease.id, 'expired', R]]);
      expect((await checkout('after-sweep', 'c2', R + MARGIN_MS)).lease.slot).toBe(lease.slot);
    });

    it('counts the seat as in use until R + M', async () => {
      await checkout('holder', 'c1', T0);
      expect(await inUse(R - 1)).toBe(1);
      expect(await inUse(R)).toBe(1);
      expect(await inUse(R + MARGIN_MS - 1)).toBe(1);
      expect(await inUse(R + MARGIN_MS)).toBe(0);
    });

    it("leaves the holder's view as it was: its lease expires at R and a renewal at R is refused", async () => {
      const { lease } = await checkout('holder', 'c1', T0);
      const renewed = await store.renewLease({ leaseId: lease.id, now: R - 1 });
      expect(renewed.reservedUntil).toBe(R - 1 + TTL_MS);
      await expectCode(store.renewLease({ leaseId: lease.id, now: renewed.reservedUntil }), 'LEASE_EXPIRED');
      // Refused, yet the seat is not anyone else's until the margin has passed.
      await expectCode(checkout('other', 'c2', renewed.reservedUntil), 'SEATS_EXHAUSTED');
      expect((await store.getLease(lease.id))?.endReason).toBeUndefined();
    });

    it('keeps a seat force-released softly within the margin from others until R + M', async () => {
      const { lease } = await checkout('holder', 'c1', T0);
      const soft = await store.forceRelease({ leaseId: lease.id, now: R + 1, immediate: false });
      expect(soft.endReason).toBeUndefined();
      await expectCode(checkout('other', 'c2', R + MARGIN_MS - 1), 'SEATS_EXHAUSTED');
      expect((await checkout('other', 'c2', R + MARGIN_MS)).lease.slot).toBe(lease.slot);
    });
  });
}
