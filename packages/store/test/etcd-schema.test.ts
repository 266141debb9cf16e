import { randomBytes, randomUUID } from 'node:crypto';
import type { LeaseholdError } from '@leasehold/domain';
import { ETCD_SCHEMA_VERSION, type EtcdMigration, EtcdStore, type MigrationContext } from '@leasehold/store';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

let endpoints: string[];
const opened: EtcdStore[] = [];
beforeAll(async () => {
  endpoints = await etcdEndpoints();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

const kek = randomBytes(32);
const open = (prefix: string, extra: Partial<ConstructorParameters<typeof EtcdStore>[0]> = {}) => {
  const store = new EtcdStore({
    endpoints,
    prefix,
    kek,
    licenseKeys: LICENSE_KEYS,
    migrationLockTtlSeconds: 2,
    ...extra,
  });
  opened.push(store);
  return store;
};

async function storedSchema(store: EtcdStore): Promise<unknown> {
  const { results } = await store.gateway.read([{ key: store.keys.schema() }]);
  const kv = results[0]?.[0];
  return kv ? JSON.parse(kv.value.toString()) : undefined;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as LeaseholdError,
  );

/**
 * Test layout: records under `{p}widgets/`. Step 2 rewrites each `{n}` into `{n, v2: true}` in batches of
 * two, skipping records already rewritten (idempotent); `hooks` let a test crash it or hold it mid-way.
 */
function widgetMigrations(hooks: {
  afterBatch?: (batch: number) => Promise<void>;
  runs?: { count: number };
}): EtcdMigration[] {
  return [
    { to: 1, description: 'stamp', run: async () => undefined },
    {
      to: 2,
      description: 'widgets get v2',
      async run(ctx: MigrationContext) {
        if (hooks.runs) hooks.runs.count++;
        const { results } = await ctx.gateway.read([{ prefix: `${ctx.keys.prefix}widgets/` }]);
        const old = (results[0] ?? []).filter((kv) => !JSON.parse(kv.value.toString()).v2);
        for (let i = 0, batch = 0; i < old.length; i += 2, batch++) {
          const chunk = old.slice(i, i + 2);
          await ctx.commit(
            chunk.map((kv) => ({ key: kv.key, target: 'Mod' as const, equals: kv.modRevision })),
            chunk.map((kv) => ({
              put: kv.key,
              value: JSON.stringify({ ...JSON.parse(kv.value.toString()), v2: true }),
            })),
          );
          await hooks.afterBatch?.(batch);
        }
      },
    },
    { to: 3, description: 'nothing more', run: async () => undefined },
  ];
}

async function seedWidgets(store: EtcdStore, count: number): Promise<void> {
  const writes = Array.from({ length: count }, (_, n) => ({
    put: `${store.keys.prefix}widgets/${String(n).padStart(3, '0')}`,
    value: JSON.stringify({ n }),
  }));
  await store.gateway.txn([], writes);
}

async function widgets(store: EtcdStore): Promise<{ n: number; v2?: boolean }[]> {
  const { results } = await store.gateway.read([{ prefix: `${store.keys.prefix}widgets/` }]);
  return (results[0] ?? []).map((kv) => JSON.parse(kv.value.toString()));
}

describe('etcd store schema version', () => {
  it('a new store is stamped with the newest version; a store written before versions is migrated', async () => {
    const fresh = open(`/schema-${randomUUID()}/`, { node: 'n1' });
    await fresh.ping();
    expect(await storedSchema(fresh)).toEqual({ version: ETCD_SCHEMA_VERSION, by: 'n1' });

    // A store of the previous release (version 0: no schema key) keeps its data through the stamp.
    const prefix = `/schema-${randomUUID()}/`;
    const previous = open(prefix, { schemaVersion: 0 });
    await previous.createToken({
      id: 'tok-kept',
      hash: 'a'.repeat(64),
      scope: 'admin',
      licenseId: undefined,
      name: 'kept',
      createdAt: 1,
      revokedAt: undefined,
    });
    expect(await storedSchema(previous)).toBeUndefined();
    const upgraded = open(prefix, { node: 'n2' });
    expect((await upgraded.listTokens()).map((t) => t.name)).toEqual(['kept']);
    expect(await storedSchema(upgraded)).toEqual({ version: ETCD_SCHEMA_VERSION, by: 'n2' });
    // The lock is gone once the migration ends.
    const { results } = await upgraded.gateway.read([{ key: upgraded.keys.schemaLock() }]);
    expect(results[0]).toEqual([]);
  });

  it('a store of a newer version is refused with STORE_SCHEMA_TOO_NEW naming both versions, and left as it was', async () => {
    const prefix = `/schema-${randomUUID()}/`;
    const newer = open(prefix, { node: 'new-node' });
    await newer.ping();
    await newer.gateway.txn(
      [],
      [{ put: newer.keys.schema(), value: JSON.stringify({ version: 99, by: 'new-node' }) }],
    );
    const old = open(prefix);
    const err = await failure(old.ping());
    expect(err.code).toBe('STORE_SCHEMA_TOO_NEW');
    expect(err.message).toContain('schema version 99');
    expect(err.message).toContain(`version ${ETCD_SCHEMA_VERSION}`);
    expect(err.details).toMatchObject({ storeSchema: 99, nodeSchema: ETCD_SCHEMA_VERSION });
    // Every operation keeps refusing; nothing was written.
    expect((await failure(old.listLicenses())).code).toBe('STORE_SCHEMA_TOO_NEW');
    expect(await storedSchema(old)).toEqual({ version: 99, by: 'new-node' });
  });

  it('a migrator that fails mid-step leaves the version where it was; the next one resumes and finishes', async () => {
    const prefix = `/schema-${randomUUID()}/`;
    const seed = open(prefix, { node: 'seed', migrations: widgetMigrations({}), schemaVersion: 1 });
    await seed.ping();
    await seedWidgets(seed, 5);

    const crashing = open(prefix, {
      node: 'a',
      migrations: widgetMigrations({
        afterBatch: async (batch) => {
          if (batch === 0) throw new Error('killed after the first batch');
        },
      }),
    });
    await expect(crashing.ping()).rejects.toThrow('killed after the first batch');
    expect(await storedSchema(crashing)).toEqual({ version: 1, by: 'seed' });
    expect((await widgets(crashing)).filter((w) => w.v2)).toHaveLength(2);

    const runs = { count: 0 };
    const next = open(prefix, { node: 'b', migrations: widgetMigrations({ runs }) });
    await next.ping();
    expect(runs.count).toBe(1);
    expect(await storedSchema(next)).toEqual({ version: 3, by: 'b' });
    expect(await widgets(next)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n, v2: true })));
  });

  it('one migrator at a time: others wait with STORE_UNAVAILABLE; a migrator that lost its lock writes nothing more', async () => {
    const prefix = `/schema-${randomUUID()}/`;
    const seed = open(prefix, { migrations: widgetMigrations({}), schemaVersion: 1 });
    await seed.ping();
    await seedWidgets(seed, 4);

    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding: () => void = () => undefined;
    const isHolding = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const stalledBatches: number[] = [];
    const stalled = open(prefix, {
      node: 'stalled',
      migrations: widgetMigrations({
        afterBatch: async (batch) => {
          stalledBatches.push(batch);
          if (batch !== 0) return;
          holding();
          await held;
        },
      }),
    });
    const stalledRun = stalled.ping();
    await isHolding;

    const waiting = open(prefix, { node: 'waiting', migrations: widgetMigrations({}) });
    const busy = await failure(waiting.ping());
    expect(busy.code).toBe('STORE_UNAVAILABLE');
    expect(busy.message).toContain('node stalled is migrating the store schema from version 1 to 3');

    // The stalled migrator's lock goes, as when its lease expires during a pause.
    await stalled.gateway.client.delete().key(stalled.keys.schemaLock());
    const runs = { count: 0 };
    const successor = open(prefix, { node: 'successor', migrations: widgetMigrations({ runs }) });
    await successor.ping();
    expect(await storedSchema(successor)).toEqual({ version: 3, by: 'successor' });
    const before = await successor.gateway.read([{ prefix: `${prefix}widgets/` }]);

    // Woken, the stalled migrator's next fenced write fails its compare: it changes nothing, re-reads,
    // finds the store migrated and serves.
    release();
    await stalledRun;
    expect(stalledBatches).toEqual([0]);
    const after = await successor.gateway.read([{ prefix: `${prefix}widgets/` }]);
    expect(after.results[0]?.map((kv) => kv.modRevision)).toEqual(
      before.results[0]?.map((kv) => kv.modRevision),
    );
    expect(await storedSchema(successor)).toEqual({ version: 3, by: 'successor' });
    expect(runs.count).toBe(1);
  });

  it('three nodes opening an old store at once: one migrates, the others wait and then serve', async () => {
    const prefix = `/schema-${randomUUID()}/`;
    const seed = open(prefix, { migrations: widgetMigrations({}), schemaVersion: 1 });
    await seed.ping();
    await seedWidgets(seed, 6);
    const runs = { count: 0 };
    const nodes = ['x', 'y', 'z'].map((node) =>
      open(prefix, { node, migrations: widgetMigrations({ runs }) }),
    );
    const deadline = Date.now() + 10_000;
    await Promise.all(
      nodes.map(async (store) => {
        for (;;) {
          try {
            return await store.ping();
          } catch (err) {
            if ((err as LeaseholdError).code !== 'STORE_UNAVAILABLE' || Date.now() > deadline) throw err;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      }),
    );
    expect(runs.count).toBe(1);
    expect(await widgets(seed)).toEqual([0, 1, 2, 3, 4, 5].map((n) => ({ n, v2: true })));
  });
});
