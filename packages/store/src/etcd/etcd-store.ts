import type {
  AuditEntry,
  AuditEvent,
  AuditHead,
  LicenseVerificationKeys,
  StoredCheckpoint,
} from '@leasehold/domain';
import { SeatHandOver } from '@leasehold/domain';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import { RoutedStore, type StoreCollaborators } from '../facade/routed-store.js';
import { LicenseIntegrity } from '../integrity/license-integrity.js';
import type { EpochState, FenceInput, PromoteInput } from '../port/fencing-epoch.js';
import type {
  AuditQuery,
  AuditSealResult,
  AuditStatus,
  KekRotation,
  LeaseStore,
} from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import { AuditConflict, EtcdAudit } from './etcd-audit.js';
import { EtcdCheckout } from './etcd-checkout.js';
import { EtcdContext } from './etcd-context.js';
import { EtcdDataKey } from './etcd-data-key.js';
import { EtcdEpochs } from './etcd-epoch.js';
import { EtcdFeed } from './etcd-feed.js';
import { type EtcdConnectionOptions, EtcdGateway } from './etcd-gateway.js';
import { EtcdLeases } from './etcd-leases.js';
import { EtcdLicenses } from './etcd-licenses.js';
import { ETCD_MIGRATIONS, type EtcdMigration } from './etcd-migrations.js';
import { EtcdSchema, type EtcdSchemaOptions } from './etcd-schema.js';
import { EtcdSigningKeys } from './etcd-signing-keys.js';
import { EtcdTokens } from './etcd-tokens.js';
import { Keyspace } from './keyspace.js';
import { type LeaseCacheStats, LeaseRecordCache } from './lease-record-cache.js';
import { Optimistic } from './optimistic.js';

/**
 * Lease records a node keeps for read-free renewals (lease-record-cache.ts): ~20 MB at most, and every
 * renewal of 100,000 leases spread over three nodes (or two, after one failed: 80% of them) skips its read.
 */
export const DEFAULT_LEASE_CACHE_SIZE = 40_000;

export interface EtcdStoreOptions extends EtcdConnectionOptions {
  /** Key prefix of this deployment (several clusters, or tests, may share one etcd). Ends with "/". */
  readonly prefix?: string;
  /** How long one store operation may keep retrying before it answers STORE_UNAVAILABLE. */
  readonly operationBudgetMs?: number;
  /** Randomness for slot choice and backoff jitter (injected, STYLE.md rule 4). */
  readonly random?: () => number;
  /** The key-encryption key (32 bytes) the data key is wrapped under; see docs/security.md. */
  readonly kek: Uint8Array;
  /** Randomness for the data key and nonces (injected). */
  readonly randomBytes?: RandomBytes;
  /** The node named by audit records of calls that pass no audit context (docs/audit.md). */
  readonly node?: string;
  /**
   * The trusted vendor keys (from the node's configuration, never from etcd): every stored license is
   * served only as its signature under one of them says (docs/security.md).
   */
  readonly licenseKeys: LicenseVerificationKeys;
  /** Wall clock for audit records the store writes by itself (a refused license); default `Date.now`. */
  readonly now?: () => number;
  /**
   * The schema version this store works at (etcd-schema.ts): the newest of `migrations` by default.
   * Lower only in tests, to play a node of the previous release (the rolling-upgrade test).
   */
  readonly schemaVersion?: number;
  /** The layout's migration steps (default: ETCD_MIGRATIONS; tests pass their own). */
  readonly migrations?: readonly EtcdMigration[];
  /** TTL of the migration lock's lease (default 10 s): how long a dead migrator holds others back. */
  readonly migrationLockTtlSeconds?: number;
  /** Told each migration step as it starts (the node logs it). */
  readonly onSchemaStep?: EtcdSchemaOptions['onStep'];
  /**
   * How far two node clocks may disagree, ms: a seat whose lease ran out goes to another lease only this
   * long after its deadline, on the acting node's clock (SeatHandOver, docs/ha.md "Expiry"). Default 0;
   * the node passes its `maxClockSkewMs`. Ignored when `handOver` is given.
   */
  readonly maxClockSkewMs?: number;
  /**
   * The hand-over rule itself, for a node that widens its margin to the cluster's at run time
   * (ClusterSeatHandOver, fed from the margins the nodes announce in their membership records).
   */
  readonly handOver?: SeatHandOver;
  /**
   * How many lease records this node remembers so that their renewals skip the read (default
   * DEFAULT_LEASE_CACHE_SIZE; 0: every renewal reads first). A hint only: see lease-record-cache.ts.
   */
  readonly leaseCacheSize?: number;
}

/**
 * The HA backend: every operation is optimistic — read (linearizable), decide with the same domain rules
 * as SQLite, then one transaction whose compares guarantee that what was read is still true. A failed
 * compare re-reads and decides again; an error (unknown outcome) does the same, and the re-read finds the
 * write if it happened (the request key of a checkout, the renewed record of a renewal), so no write is
 * blindly repeated. Operations give up with STORE_UNAVAILABLE when their budget runs out (optimistic.ts).
 *
 * Seat expiry is decided by deadlines stored in the lease records and compared with the acting node's
 * clock inside the compare-guarded transaction (docs/ha.md explains why not etcd leases).
 *
 * This class holds the lifecycle and the audit trail; every other operation is routed (RoutedStore) to its
 * concept's collaborator (docs/architecture.md, "Store layout").
 */
export class EtcdStore extends RoutedStore implements LeaseStore {
  readonly backend = 'etcd';
  readonly gateway: EtcdGateway;
  readonly keys: Keyspace;
  readonly #optimistic: Optimistic;
  readonly #dataKey: EtcdDataKey;
  readonly #audit: EtcdAudit;
  readonly #schema: EtcdSchema;
  readonly #epochs: EtcdEpochs;
  readonly #leaseCache: LeaseRecordCache;
  protected readonly parts: StoreCollaborators;

  constructor(options: EtcdStoreOptions) {
    super();
    // Checked before any connection opens: a bad margin is the caller's mistake.
    const handOver = options.handOver ?? new SeatHandOver(options.maxClockSkewMs ?? 0);
    this.gateway = new EtcdGateway(options);
    this.keys = new Keyspace(options.prefix ?? '/leasehold/');
    const random = options.random ?? Math.random;
    this.#dataKey = new EtcdDataKey(this.gateway, this.keys, options.kek, options.randomBytes);
    const migrations = options.migrations ?? ETCD_MIGRATIONS;
    this.#schema = new EtcdSchema(this.gateway, this.keys, {
      version: options.schemaVersion ?? migrations.length,
      migrations,
      node: options.node ?? 'unnamed',
      lockTtlSeconds: options.migrationLockTtlSeconds ?? 10,
      ...(options.onSchemaStep ? { onStep: options.onSchemaStep } : {}),
    });
    // Before the first record is read: the schema (refused if newer, migrated if older), then the data key.
    const schema = this.#schema;
    const dataKey = this.#dataKey;
    const opening = {
      get ready() {
        return schema.ready && dataKey.ready;
      },
      load: async () => {
        await schema.ensure();
        if (!dataKey.ready) await dataKey.load();
      },
    };
    this.#optimistic = new Optimistic(options.operationBudgetMs ?? 1300, random, opening, () =>
      this.gateway.quorumUnreachable(),
    );
    this.#audit = new EtcdAudit(this.gateway, this.keys, random);
    const ctx = new EtcdContext(
      this.gateway,
      this.keys,
      this.#optimistic,
      this.#dataKey,
      this.#audit,
      random,
      options.node ?? 'unnamed',
      handOver,
    );
    this.#epochs = new EtcdEpochs(ctx);
    const integrity = new LicenseIntegrity({
      keys: options.licenseKeys,
      record: (event) => this.recordAudit(event),
      now: options.now ?? Date.now,
      node: ctx.node,
    });
    const licenses = new EtcdLicenses(ctx, integrity);
    this.#leaseCache = new LeaseRecordCache(options.leaseCacheSize ?? DEFAULT_LEASE_CACHE_SIZE, (id) =>
      this.keys.lease(id),
    );
    // Lease writes check and compare the epoch inside their own transactions (etcd-epoch.ts), so seat
    // blocks, which use these collaborators directly (facade/seat-blocks.ts), are fenced as well.
    const leases = new EtcdLeases(ctx, licenses, this.#leaseCache, this.#epochs);
    this.parts = {
      licenses,
      checkout: new EtcdCheckout(ctx, licenses, leases, this.#epochs),
      leases,
      tokens: new EtcdTokens(ctx),
      signingKeys: new EtcdSigningKeys(ctx),
      feed: new EtcdFeed(ctx),
    };
  }

  /** Renewals that skipped their read (hits), that read (misses), and hits whose compare failed (stale). */
  get leaseCacheStats(): Readonly<LeaseCacheStats> {
    return this.#leaseCache.stats;
  }

  async ping(): Promise<void> {
    await this.#optimistic.run(() => this.gateway.read([{ key: this.keys.licenseRev() }]));
  }

  async close(): Promise<void> {
    this.gateway.close();
  }

  rotateKek(newKek: Uint8Array): Promise<KekRotation> {
    return this.#optimistic.run(() => this.#dataKey.rotate(newKek));
  }

  // Fencing epoch (port/fencing-epoch.ts; etcd-epoch.ts: how every lease write compares it) ----------

  epochState(): Promise<EpochState> {
    return this.#epochs.state();
  }

  promoteEpoch(input: PromoteInput): Promise<EpochState> {
    return this.#epochs.promote(input);
  }

  fenceEpoch(input: FenceInput): Promise<EpochState> {
    return this.#epochs.fence(input);
  }

  // Audit trail ----------------------------------------------------------------------------------

  recordAudit(event: AuditEvent): Promise<void> {
    // One key for every attempt, written only if absent: a retry after an unknown outcome finds the first
    // attempt's record instead of adding a second one.
    const write = this.#audit.pendingWrite(event);
    return this.#optimistic.run(async () => {
      await this.gateway.txn([{ key: write.put, target: 'Create', equals: 0 }], [write]);
    });
  }

  sealAudit(limit: number): Promise<AuditSealResult> {
    return this.#optimistic.run(() => this.#audit.seal(limit).catch(auditConflict));
  }

  auditStatus(): Promise<AuditStatus> {
    return this.#optimistic.run(() => this.#audit.status());
  }

  auditEntries(query: AuditQuery): Promise<AuditEntry[]> {
    return this.#optimistic.run(() => this.#audit.entries(query));
  }

  pendingAudit(limit: number): Promise<AuditEvent[]> {
    return this.#optimistic.run(() => this.#audit.pending(limit));
  }

  saveAuditCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.#optimistic.run(() => this.#audit.saveCheckpoint(checkpoint));
  }

  listAuditCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.#optimistic.run(() => this.#audit.checkpoints());
  }

  async pruneAudit(throughSeq: number): Promise<AuditHead> {
    for (;;) {
      const anchor = await this.#optimistic.run(() =>
        this.#audit.pruneBatch(throughSeq).catch(auditConflict),
      );
      if (anchor.seq >= throughSeq) return anchor;
    }
  }
}

/** Turns the audit module's compare failure into this store's Conflict (re-read and retry). */
function auditConflict(err: unknown): never {
  throw err instanceof AuditConflict ? new Conflict() : err;
}
