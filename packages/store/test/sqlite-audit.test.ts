import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import { afterAll } from 'vitest';
import { describeAuditContract } from './contract/audit-contract.js';
import { LICENSE_KEYS } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-audit-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kek = randomBytes(32);
describeAuditContract(
  'sqlite',
  async () => new SqliteStore({ path: join(dir, `audit-${++n}.db`), kek, licenseKeys: LICENSE_KEYS }),
);
