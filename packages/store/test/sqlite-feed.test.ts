import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LeaseStore, SqliteStore } from '@leasehold/store';
import { afterAll, describe, expect, it } from 'vitest';
import { describeFeedContract } from './contract/feed-contract.js';
import { T0 } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-feed-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A retention of 40 changes (more than one workload writes), pruned every 2 appends: the compaction case
// needs only some fifty writes.
describeFeedContract('sqlite', {
  open: async () =>
    new SqliteStore({
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

describe('a replica applying one revision', () => {
  it('accepts a slot taken over from an expired lease written before that lease ends (etcd order)', async () => {
    const replica = new SqliteStore({ path: join(dir, 'order.db'), kek: randomBytes(32) });
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
