import { LeaseholdError } from '@leasehold/domain';
import { storeSchemaTooNew } from '../port/store-schema.js';
import { commit } from './conflict.js';
import { type EtcdGateway, EtcdTransientError, operationDeadline } from './etcd-gateway.js';
import type { EtcdMigration, MigrationContext } from './etcd-migrations.js';
import type { Keyspace } from './keyspace.js';

export interface EtcdSchemaOptions {
  /** The version this node works at: the newest it understands (tests pass a lower one, see below). */
  readonly version: number;
  /** The steps, `migrations[i]` making version i + 1. */
  readonly migrations: readonly EtcdMigration[];
  /** Named in the lock and the schema record, so a waiting node and an operator can tell who migrated. */
  readonly node: string;
  /** TTL of the migration lock's etcd lease: how long a dead migrator holds the others back. */
  readonly lockTtlSeconds: number;
  /** Told each step as it runs (the node logs it). */
  readonly onStep?: (step: { from: number; to: number; description: string }) => void;
}

interface StoredSchema {
  readonly version: number;
  readonly by?: string;
}

/**
 * The store's schema version on etcd (`{p}schema`), checked before the first operation of a store:
 * a newer one is refused (STORE_SCHEMA_TOO_NEW), an older one migrated, step by step, by one node at a
 * time.
 *
 * Fencing, as DESIGN.md asks of every protected write: the migrator holds `{p}schema-migration`, created
 * if absent and bound to its own etcd lease (kept alive while it works), and every write of the migration
 * compares that key's create revision. A migrator that stalls past its lease loses the key, and with it
 * every later write, so two migrators never interleave. The version advances one step at a time, each
 * advance compared with the version key's mod revision as read; a step is idempotent, so whoever takes
 * the lock next resumes at the first unfinished step and runs it again from its start.
 *
 * A node that finds the lock held answers STORE_UNAVAILABLE (retryable) and tries again: node start-up
 * retries it, as it does a store without quorum.
 */
export class EtcdSchema {
  #running: Promise<void> | undefined;
  #ready = false;

  constructor(
    private readonly gateway: EtcdGateway,
    private readonly keys: Keyspace,
    private readonly options: EtcdSchemaOptions,
  ) {
    if (
      !Number.isInteger(options.version) ||
      options.version > options.migrations.length ||
      options.version < 0
    ) {
      throw new TypeError(`schema version ${options.version} has no migration path`);
    }
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Checks (and migrates) once per store; concurrent callers share the one run, a failed run is redone. */
  ensure(): Promise<void> {
    // Outside the calling operation's budget: a migration may take longer than one store operation
    // (each etcd call still has its own deadline).
    this.#running ??= operationDeadline
      .run(Number.POSITIVE_INFINITY, () => this.#ensure())
      .then(
        () => {
          this.#ready = true;
        },
        (err: unknown) => {
          this.#running = undefined;
          throw err;
        },
      );
    return this.#running;
  }

  async #ensure(): Promise<void> {
    const { results } = await this.gateway.read([
      { key: this.keys.schema() },
      { key: this.keys.schemaLock() },
    ]);
    const kv = results[0]?.[0];
    const stored: StoredSchema = kv ? parseSchema(kv.value.toString()) : { version: 0 };
    if (stored.version > this.options.version) {
      throw storeSchemaTooNew('etcd', stored.version, this.options.version, stored.by);
    }
    if (stored.version === this.options.version) return;
    const holder = results[1]?.[0];
    if (holder) throw migrationRunning(holder.value.toString());
    await this.#migrate(stored.version, kv?.modRevision ?? 0);
  }

  async #migrate(from: number, schemaMod: number): Promise<void> {
    const { client } = this.gateway;
    const lockKey = this.keys.schemaLock();
    const lease = client.lease(this.options.lockTtlSeconds, { autoKeepAlive: true });
    lease.on('lost', () => undefined); // the fence below notices: every later write fails its compare
    try {
      const acquired = await transient(async () => {
        const leaseId = await lease.grant();
        return client
          .if(lockKey, 'Create', '==', 0)
          .then(
            client
              .put(lockKey)
              .value(JSON.stringify({ node: this.options.node, from, to: this.options.version }))
              .lease(leaseId),
          )
          .else(client.get(lockKey))
          .commit();
      });
      if (!acquired.succeeded) {
        const holder = acquired.responses[0]?.response_range?.kvs?.[0]?.value.toString() ?? '{}';
        throw migrationRunning(holder);
      }
      const fence = Number(acquired.header.revision);
      const guard = { key: lockKey, target: 'Create' as const, equals: fence };
      const context: MigrationContext = {
        gateway: this.gateway,
        keys: this.keys,
        commit: (compare, writes) => commit(this.gateway, [guard, ...compare], writes),
      };
      let mod = schemaMod;
      for (let version = from + 1; version <= this.options.version; version++) {
        const step = this.options.migrations[version - 1];
        if (!step || step.to !== version)
          throw new TypeError(`migration ${version - 1} makes version ${step?.to}`);
        this.options.onStep?.({ from: version - 1, to: version, description: step.description });
        await step.run(context);
        mod = await context.commit(
          [{ key: this.keys.schema(), target: 'Mod', equals: mod }],
          [{ put: this.keys.schema(), value: JSON.stringify({ version, by: this.options.node }) }],
        );
      }
      await this.gateway.txn([guard], [{ delete: lockKey }]);
    } finally {
      await lease.revoke().catch(() => undefined);
    }
  }
}

function parseSchema(text: string): StoredSchema {
  const parsed = JSON.parse(text) as Partial<StoredSchema>;
  if (typeof parsed.version !== 'number' || !Number.isInteger(parsed.version) || parsed.version < 0) {
    throw new TypeError(`the stored schema record is malformed: ${text}`);
  }
  return { version: parsed.version, ...(typeof parsed.by === 'string' ? { by: parsed.by } : {}) };
}

function migrationRunning(lock: string): LeaseholdError {
  let holder: { node?: string; from?: number; to?: number } = {};
  try {
    holder = JSON.parse(lock) as typeof holder;
  } catch {
    // an unreadable lock still means someone holds it
  }
  return new LeaseholdError(
    'STORE_UNAVAILABLE',
    `node ${holder.node ?? '?'} is migrating the store schema from version ${holder.from ?? '?'} to ` +
      `${holder.to ?? '?'}; waiting for it`,
    { migratingNode: holder.node },
  );
}

async function transient<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new EtcdTransientError(`etcd: ${(err as Error).message}`, { cause: err });
  }
}
