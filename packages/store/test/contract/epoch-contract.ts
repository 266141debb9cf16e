import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseholdError } from '@leasehold/domain';
import { type LeaseStore, SqliteStore } from '@leasehold/store';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, LICENSE_KEYS, license, T0 } from './fixtures.js';

async function refusal(promise: Promise<unknown>): Promise<LeaseholdError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LeaseholdError);
  return err as LeaseholdError;
}

/**
 * The fencing epoch (docs/replication.md, "Promotion"), run against every backend: absent is epoch 1; a
 * fence at a newer epoch makes every lease write answer PRIMARY_FENCED naming the new primary; a
 * promotion moves to the next epoch and holds new grants (not renewals or check-ins) until the learning
 * window ends.
 */
export function describeEpochContract(backend: string, open: () => Promise<LeaseStore>): void {
  describe(`fencing epoch: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open();
      await store.installLicense(await license({ seats: { solver: 3 } }), T0);
    });
    afterEach(async () => {
      await store.close();
    });

    const checkout = (now: number, id = randomUUID()) =>
      store.acquireSeat({ leaseId: id, requestId: id, feature: 'solver', client: client('c'), now });

    it('is 1 until it moves; a fence at a newer epoch refuses every lease write, naming the new primary', async () => {
      expect(await store.epochState()).toEqual({ epoch: 1 });
      const { lease } = await checkout(T0);
      const stale = await refusal(store.fenceEpoch({ epoch: 1, primary: 'https://dr:7300', now: T0 }));
      expect(stale.code).toBe('EPOCH_STALE');

      const fenced = await store.fenceEpoch({ epoch: 2, primary: 'https://dr:7300', now: T0 + 1 });
      expect(fenced).toEqual({ epoch: 1, fenced: { epoch: 2, primary: 'https://dr:7300', at: T0 + 1 } });
      // Idempotent: the same fence again changes nothing.
      expect(await store.fenceEpoch({ epoch: 2, primary: 'https://dr:7300', now: T0 + 5 })).toEqual(fenced);
      expect(await store.epochState()).toEqual(fenced);

      // One after another: a refusal that comes while another is awaited must not go unhandled.
      for (const write of [
        () => checkout(T0 + 10),
        () => store.renewLease({ leaseId: lease.id, now: T0 + 10 }),
        () => store.releaseSeat({ leaseId: lease.id, now: T0 + 10 }),
        () => store.forceRelease({ leaseId: lease.id, now: T0 + 10, immediate: true }),
      ]) {
        const err = await refusal(write());
        expect(err.code).toBe('PRIMARY_FENCED');
        expect(err.details).toMatchObject({ primary: 'https://dr:7300', epoch: 2 });
      }
      // Nothing was written: the lease is as granted.
      expect((await store.getLease(lease.id))?.renewedAt).toBe(lease.renewedAt);
      // A fenced store is never promoted.
      expect((await refusal(store.promoteEpoch({ now: T0 + 20, learningMs: 0 }))).code).toBe(
        'PRIMARY_FENCED',
      );
    });

    it('a promotion moves to the next epoch and holds new grants, not renewals or check-ins, while it learns', async () => {
      const { lease } = await checkout(T0);
      const other = await checkout(T0);
      const promoted = await store.promoteEpoch({
        now: T0 + 1000,
        learningMs: 60_000,
        supersedes: 'https://p:7300',
      });
      expect(promoted).toEqual({
        epoch: 2,
        promotion: { at: T0 + 1000, learningUntil: T0 + 61_000, supersedes: 'https://p:7300' },
      });
      expect(await store.epochState()).toEqual(promoted);

      const learning = await refusal(checkout(T0 + 2000));
      expect(learning.code).toBe('PROMOTION_LEARNING');
      expect(learning.retryable).toBe(true);
      expect(learning.details).toMatchObject({ epoch: 2, learningUntil: T0 + 61_000, retryAfterSeconds: 59 });

      const renewed = await store.renewLease({ leaseId: lease.id, now: T0 + 2000 });
      expect(renewed.renewedAt).toBe(T0 + 2000);
      expect((await store.renewLeases([{ leaseId: lease.id, now: T0 + 3000 }]))[0]?.ok).toBe(true);
      expect((await store.releaseSeat({ leaseId: other.lease.id, now: T0 + 3000 })).endReason).toBe(
        'released',
      );

      // The window ends to the millisecond.
      expect((await refusal(checkout(T0 + 60_999))).code).toBe('PROMOTION_LEARNING');
      expect((await checkout(T0 + 61_000)).lease.feature).toBe('solver');
      // A fence must now be above epoch 2.
      expect((await refusal(store.fenceEpoch({ epoch: 2, primary: 'x', now: T0 + 62_000 }))).code).toBe(
        'EPOCH_STALE',
      );
    });
  });
}

/** A store opened on a data file that was promoted cannot follow a primary again (SQLite only). */
export function describeSqlitePromotedReopen(): void {
  describe('fencing epoch: sqlite, a promoted data file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-epoch-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps its epoch over a restart and refuses to be opened as a replica (REPLICA_PROMOTED)', async () => {
      const path = join(dir, 'promoted.db');
      const kek = randomBytes(32);
      const first = new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek, followsPrimary: true });
      await first.applyChanges([], { through: 5, head: 5, epoch: 3 }, T0);
      expect((await first.epochState()).epoch).toBe(3);
      await first.promoteEpoch({ now: T0, learningMs: 1000 });
      await first.close();

      let refused: unknown;
      try {
        new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek, followsPrimary: true });
      } catch (err) {
        refused = err;
      }
      expect((refused as LeaseholdError).code).toBe('REPLICA_PROMOTED');

      const again = new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek });
      expect(await again.epochState()).toMatchObject({
        epoch: 4,
        promotion: { at: T0, learningUntil: T0 + 1000 },
      });
      await again.close();
    });
  });
}
