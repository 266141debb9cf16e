import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { leaseholdBin } from '@leasehold/devtools';
import type { AuditKeeper } from '@leasehold/server/internal';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/test-app.js';
import { makeTestKeeper } from './helpers/test-keeper.js';

/**
 * issue 11: `leasehold audit verify` must not be fooled by an anchor moved in the store. Each attack is
 * made on the real SQLite file under a running app, exported through the API and judged by the real CLI.
 */
const run = promisify(execFile);

async function verify(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [leaseholdBin(), 'audit', 'verify', ...args]);
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    if (e.code === 1) throw new Error(`verify failed to run: ${e.stderr}`);
    return { code: e.code, stdout: e.stdout };
  }
}

describe('audit verify against a moved anchor (CLI, exit codes)', () => {
  let t: TestApp;
  let dir: string;
  let keeper: AuditKeeper;
  let jwks: string;

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const exportNow = async (name: string) =>
    file(name, (await t.call({ method: 'GET', url: '/v1/audit/export' })).body);
  const checkouts = async (n: number, from: number) => {
    for (let i = from; i < from + n; i++) await t.checkout({ client: { id: `c${i}` } });
  };

  beforeEach(async () => {
    t = await makeTestApp();
    dir = mkdtempSync(join(tmpdir(), 'leasehold-anchor-'));
    keeper = await makeTestKeeper(t, { archiveDir: join(dir, 'archive') });
    jwks = file(
      'jwks.json',
      (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).body,
    );
    await t.install(await t.vendor.issue({ features: { solver: { seats: 200 } } }));
  });
  afterEach(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a store-level attacker does: delete entries 1..K and the checkpoints there, move the anchor to K. */
  function moveAnchor(k: number, keepCheckpointAtK = false): void {
    const db = new Database(join(t.dataDir, 'leasehold.db'));
    try {
      const row = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(k) as { hash: string };
      db.prepare('DELETE FROM audit_log WHERE seq <= ?').run(k);
      db.prepare(`DELETE FROM audit_checkpoints WHERE seq ${keepCheckpointAtK ? '<' : '<='} ?`).run(k);
      db.prepare(
        'INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
      ).run(k, row.hash);
    } finally {
      db.close();
    }
  }

  it('the moved-anchor attack fails with exit 2, counting no kept checkpoint as verified', async () => {
    await checkouts(40, 0);
    await keeper.tick(); // sealed through 42 (token, license, 40 grants), checkpoint there
    const kept = await exportNow('kept.ndjson');
    await checkouts(20, 40);
    await keeper.tick(); // checkpoint at 62
    const honest = await verify([await exportNow('before.ndjson'), '--checkpoint', kept, '--jwks', jwks]);
    expect(honest.code, honest.stdout).toBe(0);
    expect(honest.stdout).toMatch(/checkpoints: 2 compared/);

    // Anchor moved to 45 (no checkpoint there): unsigned.
    moveAnchor(45);
    const after = await exportNow('after.ndjson');
    for (const extra of [[], ['--allow-partial']]) {
      const result = await verify([after, '--checkpoint', kept, '--jwks', jwks, ...extra]);
      expect([result.code, result.stdout]).toEqual([
        2,
        expect.stringContaining('TAMPERED: bad-anchor at index 45'),
      ]);
    }
    // Without the JWKS the anchor cannot be checked, but the kept checkpoint at 42 was compared with nothing.
    const blind = await verify([after, '--checkpoint', kept, '--json']);
    expect(blind.code).toBe(2);
    expect(JSON.parse(blind.stdout)).toMatchObject({
      ok: false,
      checkpointsChecked: 1,
      checkpointsSkipped: 1,
      problem: { kind: 'history-missing' },
    });
  });

  it('an anchor moved onto a genuine checkpoint still fails: the history it vouches for is missing', async () => {
    await checkouts(40, 0);
    await keeper.tick();
    const k = ((await t.store.listAuditCheckpoints())[0] as { seq: number }).seq; // the head then
    const kept = await exportNow('kept.ndjson');
    await checkouts(20, 40);
    await keeper.tick();
    moveAnchor(k, true); // the store keeps the checkpoint at k, so the export signs the anchor with it
    const after = await exportNow('after.ndjson');
    for (const extra of [[], ['--allow-partial']]) {
      const result = await verify([after, '--checkpoint', kept, '--jwks', jwks, ...extra]);
      expect([result.code, result.stdout]).toEqual([
        2,
        expect.stringContaining('TAMPERED: history-missing at index 1'),
      ]);
      expect(result.stdout).toMatch(new RegExp(`1 kept before seq ${k + 1}, NOT compared`));
    }
  });

  it('a forged anchor fails with exit 2', async () => {
    await checkouts(40, 0);
    await keeper.tick();
    moveAnchor(30);
    const text = (await t.call({ method: 'GET', url: '/v1/audit/export' })).body.split('\n');
    const anchor = JSON.parse(text[0] as string) as Record<string, unknown>;
    const checkpoint = text.find((l) => l.includes('"type":"checkpoint"')) as string;
    // A genuine signature, but for another point of the chain.
    text[0] = JSON.stringify({ ...anchor, jws: (JSON.parse(checkpoint) as { jws: string }).jws });
    const result = await verify([file('forged.ndjson', text.join('\n')), '--jwks', jwks, '--allow-partial']);
    expect([result.code, result.stdout]).toEqual([
      2,
      expect.stringContaining('TAMPERED: bad-anchor at index 30'),
    ]);
  });

  it('an honest archived chain passes; deleting the whole early history fails unless --allow-partial', async () => {
    const archiving = await makeTestKeeper(t, { archiveDir: join(dir, 'archive'), maxLiveEntries: 20 });
    await checkouts(30, 0);
    await archiving.tick(); // head 32, archived through 22
    await checkouts(30, 30);
    await archiving.tick(); // head 62, archived through 52
    const segments = readdirSync(join(dir, 'archive'))
      .sort()
      .map((name) => join(dir, 'archive', name));
    expect(segments).toHaveLength(2);
    const live = await exportNow('live.ndjson');
    const whole = await verify([live, ...segments, '--jwks', jwks]);
    expect([whole.code, whole.stdout]).toEqual([0, expect.stringContaining('OK: the chain is intact')]);
    expect(whole.stdout).toMatch(/entries: 62 checked \(seq 1…62\) in 3 file\(s\)/);

    const liveOnly = await verify([live, '--jwks', jwks]);
    expect([liveOnly.code, liveOnly.stdout]).toEqual([
      2,
      expect.stringContaining('TAMPERED: history-missing at index 1'),
    ]);
    const partial = await verify([live, '--jwks', jwks, '--allow-partial']);
    expect([partial.code, partial.stdout]).toEqual([
      0,
      expect.stringContaining('OK (partial, --allow-partial)'),
    ]);
    // The first segment lost: the chain starts at the second one's anchor, so history is missing.
    const lost = await verify([live, segments[1] as string, '--jwks', jwks]);
    expect([lost.code, lost.stdout]).toEqual([
      2,
      expect.stringContaining('TAMPERED: history-missing at index 1'),
    ]);
  });
});
