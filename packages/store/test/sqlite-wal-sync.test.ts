import { fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteConnection } from '../src/sqlite/sqlite-connection.js';

/** A WAL sync the test releases by hand; records which file each call flushed. */
function manualSync() {
  const calls: { fd: number; release: () => void; fail: (err: Error) => void }[] = [];
  const dataSync = (fd: number) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ fd, release: resolve, fail: reject });
    });
  return { calls, dataSync };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * `synchronous = FULL` with the WAL synced off the event loop (wal-sync.ts, issue 14): SQLite commits at
 * NORMAL, and nothing is acknowledged — no write, and no read that could see it — before an fdatasync of
 * the WAL that started after the commit.
 */
describe('SQLite FULL through an off-loop WAL sync', () => {
  const dirs: string[] = [];
  const conns: SqliteConnection[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close().catch(() => undefined);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (sync: ReturnType<typeof manualSync>, synchronous?: 'FULL' | 'NORMAL') => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-walsync-'));
    dirs.push(dir);
    const path = join(dir, 'store.db');
    const conn = new SqliteConnection({
      path,
      dataSync: sync.dataSync,
      ...(synchronous ? { synchronous } : {}),
    });
    conns.push(conn);
    conn.db.exec('CREATE TABLE t (x INTEGER)');
    return { conn, path };
  };
  const insert = (conn: SqliteConnection, x: number) =>
    conn.write(() => conn.db.prepare('INSERT INTO t VALUES (?)').run(x));
  const count = (conn: SqliteConnection) =>
    conn.read(() => (conn.db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);

  it('acknowledges a write only after the WAL it was committed to is synced, and runs SQLite at NORMAL', async () => {
    const sync = manualSync();
    const { conn, path } = open(sync);
    expect(conn.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    let acked = false;
    const write = insert(conn, 1).then(() => {
      acked = true;
    });
    await turns();
    expect(sync.calls).toHaveLength(1);
    expect(fstatSync(sync.calls[0]?.fd as number).ino).toBe(statSync(`${path}-wal`).ino);
    expect(acked).toBe(false);
    sync.calls[0]?.release();
    await write;
    expect(acked).toBe(true);
  });

  it('answers a read that could see an unsynced commit only after that commit is synced', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const write = insert(conn, 1);
    await turns();
    let answer: number | undefined;
    const read = count(conn).then((n) => {
      answer = n;
    });
    await turns();
    expect(answer).toBeUndefined();
    sync.calls[0]?.release();
    await Promise.all([write, read]);
    expect(answer).toBe(1);
    expect(await count(conn)).toBe(1); // nothing pending: answered at once
  });

  it('answers a read for a decision (an auth lookup) at once, without waiting for the sync', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const write = insert(conn, 1);
    await turns();
    const seen = await conn.readForDecision(
      () => (conn.db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n,
    );
    expect(seen).toBe(1);
    sync.calls[0]?.release();
    await write;
  });

  it('covers commits made while a sync runs with the next sync, never with the one already running', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const first = insert(conn, 1);
    await turns();
    const acked: number[] = [];
    const second = insert(conn, 2).then(() => acked.push(2));
    const third = insert(conn, 3).then(() => acked.push(3));
    await turns();
    expect(sync.calls).toHaveLength(1); // the second sync waits for the first
    sync.calls[0]?.release();
    await first;
    await turns();
    expect(acked).toEqual([]);
    expect(sync.calls).toHaveLength(2);
    sync.calls[1]?.release();
    await Promise.all([second, third]);
    expect(acked.sort()).toEqual([2, 3]);
  });

  it('fails the writes of a batch whose sync failed with a retryable STORE_UNAVAILABLE', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const write = insert(conn, 1);
    await turns();
    sync.calls[0]?.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(write).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('answers nothing more after a failed sync: the commit it covered may never reach the disk', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const write = insert(conn, 1);
    await turns();
    sync.calls[0]?.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(write).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // The row is in SQLite's WAL, visible to this connection: neither kind of read may show it.
    await expect(count(conn)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(conn.readForDecision(() => 1)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(insert(conn, 2)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(sync.calls).toHaveLength(1); // no sync attempted for a write that was refused
  });

  it('fails the writes committed while a failing sync ran, without syncing again for them', async () => {
    const sync = manualSync();
    const { conn } = open(sync);
    const first = insert(conn, 1);
    await turns();
    const second = insert(conn, 2); // committed while the first sync runs: queued behind it
    await turns();
    sync.calls[0]?.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(first).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // The failed write-back may have dropped its pages, and a second fdatasync on the same descriptor
    // would not report that again: the queued sync must not acknowledge it.
    await expect(second).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(sync.calls).toHaveLength(1);
  });

  it('syncs the writes made while opening before the store serves (syncOpenWrites)', async () => {
    const sync = manualSync();
    const { conn, path } = open(sync);
    conn.db.exec('INSERT INTO t VALUES (7)'); // like a migration: outside any acknowledged write
    conn.syncOpenWrites(); // blocking fdatasync of the WAL, not through the injected (pool) one
    expect(sync.calls).toHaveLength(0);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    expect(await count(conn)).toBe(1);
  });

  it('syncs nothing at NORMAL (the operator chose it), as before', async () => {
    const sync = manualSync();
    const { conn } = open(sync, 'NORMAL');
    await insert(conn, 1);
    expect(sync.calls).toHaveLength(0);
    expect(await count(conn)).toBe(1);
  });
});
