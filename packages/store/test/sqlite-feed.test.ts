import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LeaseStore, SqliteStore } from '@leasehold/store';
import { afterAll } from 'vitest';
import { describeFeedContract } from './contract/feed-contract.js';

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
