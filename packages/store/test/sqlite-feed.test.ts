import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseholdError } from '@leasehold/domain';
import { type LeaseStore, SqliteStore } from '@leasehold/store';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEpochContract, describeSqlitePromotedReopen } from './contract/epoch-contract.js';
import { describeFeedContract } from './contract/feed-contract.js';
import { client, LICENSE_KEYS, license, T0 } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-feed-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A retention of 40 changes (more than one workload writes), pruned every 2 appends: the compaction case
// needs only some fifty writes.
describeFeedContract('sqlite', {
  open: async () =>
    new SqliteStore({
      licenseKeys: LICENSE_KEYS,
      path: join(dir, `feed-${++n}.db`),
      kek: randomBytes(32),
      feedRetention: 40,
      feedPruneEvery: 2,
    }),
  compact: async (store: LeaseStore) => {
    for (let i = 0; i < 50; i++)
      await store.saveAuditCheckpoint({ seq: 100 + i, hash: 'h', time: i, node: 'n', jws: 'j' });
  },
});

describeEpochContract(
  'sqlite',
  async () =>
    new SqliteStore({ licenseKeys: LICENSE_KEYS, path: join(dir, `epoch-${++n}.db`), kek: randomBytes(32) }),
);
describeSqlitePromotedReopen();

describe('a replica applying one revision', () => {
  it('accepts a slot taken over from an expired lease written before that lease ends (etcd order)', async () => {
    const replica = new SqliteStore({
      licenseKeys: LICENSE_KEYS,
      path: join(dir, 'order.db'),
      kek: randomBytes(32),
    });
    try {
      const base = {
        licenseId: 'lic-1',
        feature: 'solver',
        slot: 0,
        client: { id: 'c', host: undefined, user: undefined },
        createdAt: T0,
        renewedAt: T0,
        expiresAt: T0 + 1000,
        reservedUntil: T0 + 1000,
        graceMs: 0,
        revokedAt: undefined,
        endedAt: undefined,
        endReason: undefined,
      } as const;
      const old = { ...base, id: 'old', fence: 5, requestId: 'r-old' };
      await replica.applyChanges(
        [{ rev: 5, op: 'put', record: { kind: 'lease', id: 'old', value: old } }],
        { through: 5, head: 5 },
        T0,
      );
      const taker = { ...base, id: 'new', fence: 9, requestId: 'r-new', createdAt: T0 + 2000 };
      const ended = { ...old, endedAt: T0 + 1000, endReason: 'expired' as const };
      const result = await replica.applyChanges(
        [
          { rev: 9, op: 'put', record: { kind: 'lease', id: 'new', value: taker } },
          { rev: 9, op: 'put', record: { kind: 'lease', id: 'old', value: ended } },
        ],
        { through: 9, head: 9 },
        T0,
      );
      expect(result).toMatchObject({ applied: 2, position: 9 });
      expect((await replica.getLease('old'))?.endReason).toBe('expired');
      expect((await replica.getLease('new'))?.endedAt).toBeUndefined();
    } finally {
      await replica.close();
    }
  });
});

describe('a replica store opened as a primary (manual failover)', () => {
  it('rebuilds its seat pools from the leases and starts its own feed history there', async () => {
    const primary = new SqliteStore({
      licenseKeys: LICENSE_KEYS,
      path: join(dir, 'old-primary.db'),
      kek: randomBytes(32),
    });
    const path = join(dir, 'follower.db');
    const kek = randomBytes(32);
    const follower = new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek, followsPrimary: true });
    const checkout = (store: SqliteStore, n: number) =>
      store.acquireSeat({
        leaseId: `lease-${n}`,
        requestId: `request-${n}`,
        feature: 'solver',
        client: client(`c${n}`),
        now: T0 + n,
      });
    try {
      await primary.installLicense(await license({ seats: { solver: 2 } }), T0);
      await checkout(primary, 1);
      await checkout(primary, 2);
      await primary.releaseSeat({ leaseId: 'lease-1', now: T0 + 10 });
      const snapshot = await primary.replicationSnapshot();
      await follower.replaceState(snapshot, T0);
    } finally {
      await primary.close();
      await follower.close();
    }
    const promoted = new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek });
    try {
      // Slot 0 was freed by the check-in, slot 1 is held: one seat left, and its fence is above the old
      // primary's revisions.
      const { lease } = await checkout(promoted, 3);
      expect(lease.slot).toBe(0);
      const snapshotRevision = (await promoted.replicaPosition()).position;
      expect(lease.fence).toBeGreaterThan(snapshotRevision);
      const full = await checkout(promoted, 4).catch((e: unknown) => e);
      expect((full as LeaseholdError).code).toBe('SEATS_EXHAUSTED');
      // Its own feed starts at the takeover: a follower from before it reloads the snapshot.
      const err = await promoted.changesSince({ after: 0, limit: 10, waitMs: 0 }).catch((e: unknown) => e);
      expect((err as LeaseholdError).code).toBe('REPLICATION_HISTORY_COMPACTED');
    } finally {
      await promoted.close();
    }
  });
});
