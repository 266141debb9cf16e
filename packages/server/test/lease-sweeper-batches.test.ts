import { type Lease, ManualClock } from '@leasehold/domain';
import { LeaseSweeper } from '@leasehold/server/internal';
import type { LeaseStore } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import {
  PURGE_EVERY_MS,
  PURGE_EVERY_TICKS,
  SWEEP_BATCH,
  SWEEP_BATCHES_PER_TICK,
} from '../src/node/lease-sweeper.js';
import { silentLog } from './helpers/test-keeper.js';

/** A store holding `overdue` expired leases; it records the limit of each expireLeases call. */
function overdueStore(overdue: number) {
  let left = overdue;
  const calls: number[] = [];
  const purges: number[] = [];
  const store = {
    async expireLeases(_now: number, limit: number) {
      calls.push(limit);
      const n = Math.min(limit, left);
      left -= n;
      return Array.from(
        { length: n },
        (_, i) => ({ id: `l-${left + i}`, feature: 'f', licenseId: 'lic' }) as Lease,
      );
    },
    async purgeEndedLeases(before: number) {
      purges.push(before);
      return 0;
    },
  } as unknown as LeaseStore;
  return { store, calls, purges, left: () => left };
}

// Issue 14: 10,000 leases expiring at once must be freed within 2 s of their deadline; at one batch per
// tick (1 s) that took ten ticks.
describe('lease sweeper batches', () => {
  it('sweeps again within the same tick while a batch comes back full', async () => {
    const { store, calls, left } = overdueStore(2.5 * SWEEP_BATCH);
    const sweeper = new LeaseSweeper(store, new ManualClock(0), silentLog, {
      intervalMs: 1000,
      retentionMs: 60_000,
    });
    expect(await sweeper.sweepOnce()).toBe(2.5 * SWEEP_BATCH);
    expect(calls).toEqual([SWEEP_BATCH, SWEEP_BATCH, SWEEP_BATCH]);
    expect(left()).toBe(0);
  });

  it('stops after SWEEP_BATCHES_PER_TICK full batches; the next tick goes on', async () => {
    const total = (SWEEP_BATCHES_PER_TICK + 1) * SWEEP_BATCH;
    const { store, calls, left } = overdueStore(total);
    const sweeper = new LeaseSweeper(store, new ManualClock(0), silentLog, {
      intervalMs: 1000,
      retentionMs: 60_000,
    });
    expect(await sweeper.sweepOnce()).toBe(SWEEP_BATCHES_PER_TICK * SWEEP_BATCH);
    expect(calls).toHaveLength(SWEEP_BATCHES_PER_TICK);
    expect(left()).toBe(SWEEP_BATCH);
    expect(await sweeper.sweepOnce()).toBe(SWEEP_BATCH);
    expect(left()).toBe(0);
  });

  it('asks the store for the batch it was given (etcd pipelines the pages of a larger call)', async () => {
    const { store, calls } = overdueStore(12_000);
    const sweeper = new LeaseSweeper(store, new ManualClock(0), silentLog, {
      intervalMs: 250,
      retentionMs: 60_000,
      batch: 5000,
    });
    expect(await sweeper.sweepOnce()).toBe(12_000);
    expect(calls).toEqual([5000, 5000, 5000]);
  });

  // The purge ran every 60th tick, once a minute at a 1 s interval; the default tick is now 250 ms.
  it('purges once per PURGE_EVERY_MS of the clock at intervals of 1 s and more', async () => {
    const clock = new ManualClock(0);
    const { store, purges } = overdueStore(0);
    const sweeper = new LeaseSweeper(store, clock, silentLog, { intervalMs: 1000, retentionMs: 600_000 });
    for (let t = 1000; t <= 2 * PURGE_EVERY_MS; t += 1000) {
      clock.setWall(t);
      await sweeper.sweepOnce();
    }
    expect(purges).toEqual([PURGE_EVERY_MS - 600_000, 2 * PURGE_EVERY_MS - 600_000]);
  });

  // A node that sweeps every 200 ms (the DR replica test, retention 500 ms) purges every 60 ticks, 12 s.
  it('purges every PURGE_EVERY_TICKS ticks when those come sooner than PURGE_EVERY_MS', async () => {
    const clock = new ManualClock(0);
    const { store, purges } = overdueStore(0);
    const sweeper = new LeaseSweeper(store, clock, silentLog, { intervalMs: 200, retentionMs: 500 });
    for (let t = 200; t <= 25_000; t += 200) {
      clock.setWall(t);
      await sweeper.sweepOnce();
    }
    expect(PURGE_EVERY_TICKS * 200).toBe(12_000);
    expect(purges).toEqual([12_000 - 500, 24_000 - 500]);
  });
});
