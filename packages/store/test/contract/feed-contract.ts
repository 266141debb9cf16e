import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseholdError } from '@leasehold/domain';
import {
  type ApiTokenRecord,
  type Change,
  type LeaseStore,
  SqliteStore,
  stateDigest,
} from '@leasehold/store';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, DAY, LICENSE_KEYS, license, T0 } from './fixtures.js';

export interface FeedBackend {
  open(): Promise<LeaseStore>;
  /** Drops the history the store keeps up to its head now (etcd compaction; SQLite retention). */
  compact(store: LeaseStore): Promise<void>;
}

const token = (n: number, overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord => ({
  id: `tok-${n}-${randomUUID()}`,
  hash: randomBytes(32).toString('hex'),
  scope: 'client',
  licenseId: 'lic-1',
  name: undefined,
  createdAt: T0 + n,
  revokedAt: undefined,
  ...overrides,
});

/** Reads the feed from `after` to the head, page by page, checking order: no gap, no duplicate. */
export async function drain(
  store: LeaseStore,
  after: number,
  limit = 7,
): Promise<{ changes: Change[]; through: number }> {
  const changes: Change[] = [];
  let position = after;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.changesSince({ after: position, limit, waitMs: 0 });
    for (const change of page.changes) {
      expect(change.rev).toBeGreaterThan(position);
      expect(change.rev).toBeLessThanOrEqual(page.through);
    }
    const revs = page.changes.map((c) => c.rev);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    changes.push(...page.changes);
    expect(page.through).toBeGreaterThanOrEqual(position);
    if (page.through === position && page.changes.length === 0) return { changes, through: position };
    position = page.through;
    if (position >= page.head) return { changes, through: position };
  }
  throw new Error('the feed never reached its head');
}

/**
 * The change feed (docs/replication.md), run against every backend: a replica that applies the feed, or
 * reloads the snapshot, holds exactly the primary's records (same digest), deletes included.
 */
export function describeFeedContract(backend: string, feed: FeedBackend): void {
  describe(`change feed: ${backend}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-replica-'));
    let n = 0;
    let store: LeaseStore;
    let replica: SqliteStore;
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    beforeEach(async () => {
      store = await feed.open();
      replica = new SqliteStore({
        licenseKeys: LICENSE_KEYS,
        path: join(dir, `replica-${++n}.db`),
        kek: randomBytes(32),
      });
    });
    afterEach(async () => {
      await store.close();
      await replica.close();
    });

    /** A bit of everything: installs, an upgrade, a revocation, tokens, a key, leases that end and are purged. */
    async function workload(): Promise<void> {
      await store.installLicense(await license(), T0);
      await store.installLicense(await license({ id: 'lic-2', seats: { render: 2 } }), T0);
      await store.ensureSigningKey({ kid: 'k1', privatePem: 'pem-1', createdAt: T0 });
      const t1 = await store.createToken(token(1));
      await store.createToken(token(2, { scope: 'admin', licenseId: undefined, name: 'bootstrap' }));
      await store.replaceNamedToken({
        ...token(3, { scope: 'admin', licenseId: undefined }),
        name: 'bootstrap',
      });
      await store.revokeToken(t1.id, T0 + 5);
      const leases = [];
      for (let i = 0; i < 3; i++) {
        const { lease } = await store.acquireSeat({
          leaseId: randomUUID(),
          requestId: `r${i}`,
          feature: 'solver',
          client: client(`c${i}`),
          now: T0 + i,
        });
        leases.push(lease);
      }
      await store.renewLease({ leaseId: leases[0]?.id ?? '', now: T0 + 1000 });
      await store.releaseSeat({ leaseId: leases[1]?.id ?? '', now: T0 + 2000 });
      await store.forceRelease({ leaseId: leases[2]?.id ?? '', now: T0 + 3000, immediate: true });
      await store.installLicense(await license({ version: 2, seats: { solver: 5 } }), T0 + 10);
      await store.revokeLicense('lic-2', T0 + 20);
      await store.saveAuditCheckpoint({ seq: 1, hash: 'h1', time: T0, node: 'n', jws: 'jws-1' });
      // Purging ended leases deletes records: the replica must forget them too.
      expect(await store.purgeEndedLeases(T0 + DAY)).toBe(2);
    }

    it('a replica applying the feed page by page holds the primary state, with no gap and no duplicate', async () => {
      const start = (await store.changesSince({ after: 0, limit: 1, waitMs: 0 }).catch(() => undefined))
        ? 0
        : (await store.replicationSnapshot()).revision;
      await replica.replaceState(await store.replicationSnapshot(), T0);
      const from = (await replica.replicaPosition()).position;
      expect(from).toBeGreaterThanOrEqual(start);
      await workload();
      let position = from;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await store.changesSince({ after: position, limit: 3, waitMs: 0 });
        const result = await replica.applyChanges(page.changes, page, T0);
        expect(result.skipped).toBe(0);
        // A page delivered twice (a lost answer, a restart) changes nothing.
        const again = await replica.applyChanges(page.changes, page, T0);
        expect(again.applied).toBe(0);
        position = result.position;
        if (position >= page.head) break;
      }
      const primary = await store.replicationSnapshot();
      expect(position).toBeGreaterThanOrEqual(primary.revision);
      const copy = await replica.replicationSnapshot();
      expect(stateDigest(copy.records)).toEqual(stateDigest(primary.records));
      expect(stateDigest(primary.records).counts).toMatchObject({
        license: 2,
        lease: 1,
        token: 3,
        checkpoint: 1,
      });
      // The replica's own reads see the primary's records.
      expect((await replica.getLicense('lic-1'))?.version).toBe(2);
      expect((await replica.getLicense('lic-2'))?.revokedAt).toBe(T0 + 20);
      expect((await replica.listSigningKeys()).map((k) => k.privatePem)).toEqual(['pem-1']);
    });

    it('pages keep revisions in order, each revision whole, and deletions as changes', async () => {
      const base = (await store.replicationSnapshot()).revision;
      await workload();
      const { changes } = await drain(store, base);
      const deletes = changes.filter((c) => c.op === 'delete');
      expect(deletes.map((c) => (c.op === 'delete' ? c.kind : ''))).toEqual(['lease', 'lease']);
      // The last state of each record in the feed is the snapshot's.
      const last = new Map<string, Change>();
      for (const c of changes)
        last.set(c.op === 'put' ? `${c.record.kind}/${c.record.id}` : `${c.kind}/${c.id}`, c);
      const snapshot = await store.replicationSnapshot();
      for (const record of snapshot.records) {
        const change = last.get(`${record.kind}/${record.id}`);
        expect(change?.op, `${record.kind}/${record.id}`).toBe('put');
        if (change?.op === 'put') expect(stateDigest([change.record])).toEqual(stateDigest([record]));
      }
    });

    it('a long-poll answers when a change commits, and an idle one with a bookmark', async () => {
      const base = (await store.replicationSnapshot()).revision;
      const idleStart = performance.now();
      const idle = await store.changesSince({ after: base, limit: 10, waitMs: 300 });
      expect(idle.changes).toEqual([]);
      expect(idle.through).toBeGreaterThanOrEqual(base);
      expect(performance.now() - idleStart).toBeGreaterThanOrEqual(250);
      const waiting = store.changesSince({ after: idle.through, limit: 10, waitMs: 10_000 });
      const started = performance.now();
      const late = await license({ id: 'lic-late' });
      setTimeout(() => void store.installLicense(late, T0), 100);
      const page = await waiting;
      expect(performance.now() - started).toBeLessThan(5000);
      expect(page.changes.map((c) => (c.op === 'put' ? c.record.id : c.id))).toContain('lic-late');
    });

    it('below the retained history: REPLICATION_HISTORY_COMPACTED; the snapshot reload replaces state, deletes included', async () => {
      await workload();
      // The replica held a record the primary no longer has: the reload must remove it.
      await replica.applyChanges(
        [
          {
            rev: 1,
            op: 'put',
            record: {
              kind: 'license',
              id: 'ghost',
              value: { ...(await license({ id: 'ghost' })), installedAt: T0, revokedAt: undefined },
            },
          },
        ],
        { through: 1, head: 1 },
        T0,
      );
      const base = (await store.replicationSnapshot()).revision;
      for (let i = 0; i < 3; i++) await store.createToken(token(10 + i));
      await feed.compact(store);
      const err = await store.changesSince({ after: base, limit: 10, waitMs: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseholdError);
      expect((err as LeaseholdError).code).toBe('REPLICATION_HISTORY_COMPACTED');
      const snapshot = await store.replicationSnapshot();
      await replica.replaceState(snapshot, T0);
      expect(await replica.getLicense('ghost')).toBeUndefined();
      expect(stateDigest((await replica.replicationSnapshot()).records)).toEqual(
        stateDigest(snapshot.records),
      );
      expect((await replica.replicaPosition()).position).toBe(snapshot.revision);
      // And the feed answers from the snapshot's revision on.
      const page = await store.changesSince({ after: snapshot.revision, limit: 10, waitMs: 0 });
      expect(page.through).toBeGreaterThanOrEqual(snapshot.revision);
    });

    it('a revision ahead of the store is refused the same way (another store, or a restored one)', async () => {
      const head = (await store.replicationSnapshot()).revision;
      const err = await store
        .changesSince({ after: head + 1000, limit: 10, waitMs: 0 })
        .catch((e: unknown) => e);
      expect((err as LeaseholdError).code).toBe('REPLICATION_HISTORY_COMPACTED');
    });
  });
}
