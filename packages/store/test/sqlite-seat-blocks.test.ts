import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import { afterAll } from 'vitest';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { describeSeatBlockContract } from './contract/seat-block-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-blocks-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kek = randomBytes(32);
describeSeatBlockContract(
  'sqlite',
  async () => new SqliteStore({ path: join(dir, `blocks-${++n}.db`), kek, licenseKeys: LICENSE_KEYS }),
);
