import { randomUUID } from 'node:crypto';
import type { LeaseStore } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, license, T0 } from './fixtures.js';
import type { StoreFactory } from './lease-store-contract.js';

/** M: the clock margin these cases run with (the server's default). */
const MARGIN_MS = 1000;
/** The fixture license's lease: 60 s, no grace. */
const TTL_MS = 60_000;

/**
 * Seat usage (`seatUsage`: license views, seat gauges, the dashboard) counts a lease's seat until its
 * deadline plus the clock margin, whether or not the sweep has run — the same instant a checkout may take
 * the seat over. etcd counts each pool's slot keys and subtracts the overdue entries of its deadline index
 * (issue 14: reading every live lease missed the request budget at 100,000), so these cases step through
 * deadlines, renewals, takeovers and ends with no sweep between, on several pools at once.
 */
export function describeSeatUsageContract(backend: string, open: StoreFactory): void {
  describe(`seat usage with overdue, unswept leases: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open({ maxClockSkewMs: MARGIN_MS });
      await store.installLicense(await license({ seats: { solver: 3, viewer: 5 } }), T0);
    });
    afterEach(async () => {
      await store.close();
    });

    const checkout = async (feature: string, now: number) =>
      (
        await store.acquireSeat({
          leaseId: randomUUID(),
          requestId: randomUUID(),
          feature,
          client: client(`c-${randomUUID()}`),
          now,
        })
      ).lease;
    const usage = async (now: number) =>
      Object.fromEntries((await store.seatUsage(now)).map((u) => [u.feature, u.inUse]));

    it('counts each pool until R + M, through renewals, takeovers and the sweep', async () => {
      const a = await checkout('solver', T0);
      const b = await checkout('solver', T0 + 10_000);
      await checkout('viewer', T0);
      await checkout('viewer', T0 + 1);
      expect(await usage(T0 + 1)).toEqual({ solver: 2, viewer: 2 });
      // a renews past the others' deadlines; nobody sweeps.
      await store.renewLease({ leaseId: a.id, now: T0 + 50_000 });
      const R = T0 + TTL_MS;
      expect(await usage(R + MARGIN_MS - 1)).toEqual({ solver: 2, viewer: 2 });
      expect(await usage(R + MARGIN_MS)).toEqual({ solver: 2, viewer: 1 });
      expect(await usage(R + MARGIN_MS + 1)).toEqual({ solver: 2, viewer: 0 });
      expect(await usage(b.reservedUntil + MARGIN_MS)).toEqual({ solver: 1, viewer: 0 });
      // The solver pool fills up: the third checkout takes over b's slot, which b (overdue) still has.
      const late = b.reservedUntil + MARGIN_MS;
      await checkout('solver', late);
      await checkout('solver', late);
      expect(await usage(late)).toEqual({ solver: 3, viewer: 0 });
      // The sweep changes no count: it marks what the counts already left out.
      const swept = await store.expireLeases(late, 100);
      expect(swept.map((l) => l.feature).sort()).toEqual(['viewer', 'viewer']);
      expect(await usage(late)).toEqual({ solver: 3, viewer: 0 });
      await store.releaseSeat({ leaseId: a.id, now: late + 1 });
      expect(await usage(late + 1)).toEqual({ solver: 2, viewer: 0 });
    });
  });
}
