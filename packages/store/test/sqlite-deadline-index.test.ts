import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@leasehold/store';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SQL } from '../src/sqlite/statements.js';
import { LICENSE_KEYS } from './contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-sqlite-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Issue 14, item 3 on SQLite: the sweep and live listings walk the partial deadline index
 * (`leases_live_deadline`), never a scan of the leases table — asked of SQLite's own planner, on the
 * schema a store creates.
 */
describe('SQLite deadline index', () => {
  let n = 0;
  const plan = async (sql: string, params: Record<string, unknown> | unknown[]) => {
    const path = join(dir, `plan-${++n}.db`);
    await new SqliteStore({ licenseKeys: LICENSE_KEYS, path, kek: randomBytes(32) }).close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[];
      return rows.map((r) => r.detail);
    } finally {
      db.close();
    }
  };

  it('the sweep finds overdue leases through the deadline index', async () => {
    const details = await plan(SQL.overdueLeases, [Date.now(), 1000]);
    expect(details.join('\n')).toMatch(
      /SEARCH leases USING INDEX leases_live_deadline \(reserved_until<\?\)/,
    );
    expect(details.some((d) => /^SCAN leases\b/.test(d))).toBe(false);
  });

  it('a live listing pages along the same index from its cursor', async () => {
    const details = await plan(SQL.listLiveLeases, {
      now: Date.now(),
      after_deadline: -1,
      after_id: '',
      license_id: null,
      feature: null,
      limit: 100,
    });
    expect(details.join('\n')).toMatch(/leases USING INDEX leases_live_deadline \(reserved_until>\?\)/);
    expect(details.some((d) => /^SCAN leases\b/.test(d))).toBe(false);
  });
});
