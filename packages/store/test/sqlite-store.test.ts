import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import { afterAll } from 'vitest';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { describeLeaseStoreContract, type StoreFactory } from './contract/lease-store-contract.js';
import { describeSeatUsageContract } from './contract/seat-usage-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL, fsync), not :memory:, so the suite exercises what production runs.
const kek = randomBytes(32);
const open: StoreFactory = async (options) =>
  new SqliteStore({ path: join(dir, `store-${++n}.db`), kek, licenseKeys: LICENSE_KEYS, ...options });
describeLeaseStoreContract('sqlite', open);
describeSeatUsageContract('sqlite', open);
