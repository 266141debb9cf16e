import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SeatCapReading, SqliteStore } from '@leasehold/store';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, LICENSE_KEYS, license, T0 } from './contract/fixtures.js';
import { expectCode } from './contract/lease-store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-cap-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An edge node's store: it lends only the seats of the block it holds, until the block's deadline. */
describe('edge seat cap (SQLite)', () => {
  let store: SqliteStore;
  let cap: SeatCapReading;
  beforeEach(async () => {
    cap = { seats: 2, until: T0 + 10_000 };
    store = new SqliteStore({
      path: join(dir, `cap-${++n}.db`),
      kek: randomBytes(32),
      licenseKeys: LICENSE_KEYS,
      seatCap: {
        capFor: (licenseId, feature) =>
          licenseId === 'lic-1' && feature === 'solver' ? cap : { seats: 0, until: 0 },
      },
    });
    // 5 licensed seats (60 s TTL, 30 s grace, strict), of which the block lends 2.
    await store.installLicense(
      await license({
        seats: { solver: 5, viewer: 5 },
        lease: { ttlMs: 60_000, graceMs: 30_000, policy: 'strict' },
      }),
      T0,
    );
  });
  afterEach(() => store.close());

  const checkout = (id: string, now = T0, feature = 'solver') =>
    store.acquireSeat({ leaseId: randomUUID(), requestId: id, feature, client: client(id), now });

  it('grants up to the block, each lease (and its grace) cut at the block deadline', async () => {
    const { lease } = await checkout('c1');
    expect(lease.expiresAt).toBe(T0 + 10_000);
    expect(lease.reservedUntil).toBe(T0 + 10_000);
    expect(lease.graceMs).toBe(0);
    await checkout('c2');
    await expectCode(checkout('c3'), 'SEAT_BLOCK_FULL');
    await expectCode(checkout('v1', T0, 'viewer'), 'SEAT_BLOCK_FULL');
  });

  it('cuts a lease at a fractional block deadline (read off a monotonic clock) to the millisecond below', async () => {
    cap = { seats: 2, until: T0 + 10_000.7 };
    const { lease } = await checkout('c1');
    expect(lease.reservedUntil).toBe(T0 + 10_000);
    expect((await store.getLease(lease.id))?.reservedUntil).toBe(T0 + 10_000);
  });

  it('grants and renews nothing once the block deadline passed', async () => {
    const { lease } = await checkout('c1');
    await expectCode(checkout('c2', T0 + 10_000), 'SEAT_BLOCK_EXPIRED');
    await expectCode(store.renewLease({ leaseId: lease.id, now: T0 + 9_999 + 1 }), 'LEASE_EXPIRED');
    cap = { seats: 2, until: T0 + 5_000 };
    await expectCode(store.renewLease({ leaseId: lease.id, now: T0 + 6_000 }), 'SEAT_BLOCK_EXPIRED');
  });

  it('renews up to the new deadline, never shortens, and refuses while the pool is over a shrunk block', async () => {
    const a = (await checkout('c1')).lease;
    const b = (await checkout('c2')).lease;
    cap = { seats: 2, until: T0 + 20_000 };
    const renewed = await store.renewLease({ leaseId: a.id, now: T0 + 1_000 });
    expect(renewed.reservedUntil).toBe(T0 + 20_000);
    cap = { seats: 1, until: T0 + 30_000 };
    await expectCode(store.renewLease({ leaseId: a.id, now: T0 + 2_000 }), 'SEAT_BLOCK_FULL');
    await store.releaseSeat({ leaseId: b.id, now: T0 + 2_000 });
    const again = await store.renewLease({ leaseId: a.id, now: T0 + 2_500 });
    expect(again.reservedUntil).toBe(T0 + 30_000);
    await expectCode(checkout('c3', T0 + 3_000), 'SEAT_BLOCK_FULL');
  });
});
