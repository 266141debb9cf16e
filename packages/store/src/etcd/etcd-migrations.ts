import type { Compare, EtcdGateway, WriteOp } from './etcd-gateway.js';
import type { Keyspace } from './keyspace.js';

/** What a migration step works with: reads, and writes fenced by the migration lock (etcd-schema.ts). */
export interface MigrationContext {
  readonly gateway: EtcdGateway;
  readonly keys: Keyspace;
  /**
   * One compare-guarded transaction, also guarded by the migration lock: once the lock is lost (its
   * lease expired while this migrator was paused), every write fails with a Conflict, so a stale migrator
   * can never write over its successor's work. Resolves to the transaction's revision.
   */
  commit(compare: readonly Compare[], writes: readonly WriteOp[]): Promise<number>;
}

/**
 * One step of the etcd layout, from version `to - 1` to `to`. Rules every step keeps (docs/deploy.md,
 * "Rolling upgrades"):
 * - **Idempotent.** A migrator that dies mid-step leaves the version where it was; its successor runs the
 *   whole step again, so the step must find its finished work and skip it (e.g. rewrite a record only
 *   while it is still in the old form, comparing its mod revision).
 * - **Additive.** Nodes of the previous release keep serving beside the migrated store during a rolling
 *   restart: a step adds keys or fields they ignore, and never removes or reinterprets what they read.
 *   Removing the old form waits for a later release, once no node of the old one can be running.
 */
export interface EtcdMigration {
  readonly to: number;
  /** What the step changes and why, for the log line of the node that runs it. */
  readonly description: string;
  run(context: MigrationContext): Promise<void>;
}

/**
 * The etcd layout's history. Version 0 is every store written before schema versions existed (no
 * `schema` key); version 1 is the same layout, stamped. A new entry appends here with `to` = its index + 1.
 */
export const ETCD_MIGRATIONS: readonly EtcdMigration[] = [
  {
    to: 1,
    description: 'stamp the schema version on a store written before versions existed (layout unchanged)',
    run: async () => undefined,
  },
];

/** The newest etcd layout this release understands and writes. */
export const ETCD_SCHEMA_VERSION = ETCD_MIGRATIONS.length;
