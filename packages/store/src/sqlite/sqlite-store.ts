import type {
  AuditEntry,
  AuditEvent,
  AuditHead,
  LicenseVerificationKeys,
  StoredCheckpoint,
} from '@leasehold/domain';
import { LeaseholdError, SeatHandOver } from '@leasehold/domain';
import type Database from 'better-sqlite3';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
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
import type { ApplyResult, ReplicaPosition, ReplicaTarget } from '../port/replica-target.js';
import type { Change, ReplicationSnapshot } from '../port/replication-feed.js';
import type { SeatCap } from '../port/seat-cap.js';
import { SqliteAudit } from './sqlite-audit.js';
import { SqliteChangeLog } from './sqlite-change-log.js';
import { SqliteCheckout } from './sqlite-checkout.js';
import { SqliteConnection } from './sqlite-connection.js';
import { SqliteContext } from './sqlite-context.js';
import { openDataKey, rotateKek } from './sqlite-data-key.js';
import { SqliteEpochs } from './sqlite-epoch.js';
import { SqliteFeed } from './sqlite-feed.js';
import { SqliteLeases } from './sqlite-leases.js';
import { SqliteLicenses } from './sqlite-licenses.js';
import { SqliteReplica } from './sqlite-replica.js';
import { SqliteSigningKeys } from './sqlite-signing-keys.js';
import { SqliteTokens } from './sqlite-tokens.js';

export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for tests. */
  readonly path: string;
  /**
   * `FULL` (default) fsyncs the WAL at every commit, so an acknowledged checkout or renewal survives a
   * power loss, not only a process crash. `NORMAL` survives process crashes only; measured 7x faster
   * commits here (bench/README.md), and the choice is the operator's.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for another process's lock before answering STORE_UNAVAILABLE. */
  readonly busyTimeoutMs?: number;
  /** The key-encryption key (32 bytes) the store's data key is wrapped under; see docs/security.md. */
  readonly kek: Uint8Array;
  /** Randomness for data keys and nonces (injected, STYLE.md rule 4). */
  readonly random?: RandomBytes;
  /** The node named by audit records of calls that pass no audit context (docs/audit.md). */
  readonly node?: string;
  /**
   * Changes the feed keeps for replicas that fall behind (docs/replication.md); one behind it reloads a
   * snapshot. Default 100,000.
   */
  readonly feedRetention?: number;
  /**
   * The store follows a primary (a replica: `ReplicaTarget` writes it). Without it, a store that applied
   * a primary's changes is taken over at open: seat pools rebuilt, feed history started afresh.
   */
  readonly followsPrimary?: boolean;
  /** Appends between prunes of the change table (default a tenth of the retention, at most 1,000). */
  readonly feedPruneEvery?: number;
  /**
   * The trusted vendor keys (from the node's configuration): every stored license is served only as its
   * signature under one of them says (docs/security.md, "Entitlements come from the signature").
   */
  readonly licenseKeys: LicenseVerificationKeys;
  /** Wall clock for audit records the store writes by itself (a refused license); default `Date.now`. */
  readonly now?: () => number;
  /**
   * Set on an edge node: the seat blocks it holds from its primary. Every checkout and renewal then
   * stays within its block's seats and ends by the block's deadline (docs/replication.md).
   */
  readonly seatCap?: SeatCap;
  /**
   * How far two node clocks (or this node's clock across a step) may disagree, ms: a seat whose lease ran
   * out goes to another lease only this long after its deadline (SeatHandOver, docs/ha.md "Expiry").
   * Default 0 (seats return at the deadline); the node passes its `maxClockSkewMs`.
   */
  readonly maxClockSkewMs?: number;
  /** The hand-over rule itself (ClusterSeatHandOver, as the node passes it); `maxClockSkewMs` is then ignored. */
  readonly handOver?: SeatHandOver;
}

/**
 * The embedded backend. better-sqlite3 is synchronous, so every operation is one `BEGIN IMMEDIATE`
 * transaction that runs to its end without yielding: atomic within this process by construction and
 * across processes by SQLite's write lock.
 *
 * This class holds the lifecycle and the audit trail; every other operation is routed (RoutedStore) to its
 * concept's collaborator (docs/architecture.md, "Store layout").
 */
export class SqliteStore extends RoutedStore implements LeaseStore, ReplicaTarget {
  readonly backend = 'sqlite';
  readonly #conn: SqliteConnection;
  readonly #audit: SqliteAudit;
  readonly #cipher: RecordCipher;
  readonly #random: RandomBytes | undefined;
  readonly #changes: SqliteChangeLog;
  readonly #replica: SqliteReplica;
  readonly #epochs: SqliteEpochs;
  protected readonly parts: StoreCollaborators;

  constructor(options: SqliteStoreOptions) {
    super();
    // Checked before the file opens: a bad margin is the caller's mistake and leaves nothing open.
    const handOver = options.handOver ?? new SeatHandOver(options.maxClockSkewMs ?? 0);
    this.#conn = new SqliteConnection(options);
    this.#audit = new SqliteAudit(this.#conn.db);
    this.#random = options.random;
    try {
      this.#cipher = openDataKey(this.#conn, options.kek, options.random);
    } catch (err) {
      this.#conn.db.close();
      throw err;
    }
    const node = options.node ?? 'embedded';
    this.#changes = new SqliteChangeLog(
      this.#conn.db,
      options.feedRetention ?? 100_000,
      options.feedPruneEvery ??
        Math.max(1, Math.min(1000, Math.floor((options.feedRetention ?? 100_000) / 10))),
    );
    this.#epochs = new SqliteEpochs(this.#conn.db);
    const ctx = new SqliteContext(
      this.#conn,
      this.#cipher,
      this.#audit,
      node,
      this.#changes,
      this.#epochs,
      options.seatCap,
      handOver,
    );
    this.#replica = new SqliteReplica(ctx);
    const epoch = this.#epochs.state();
    if (options.followsPrimary === true && epoch.promotion) {
      // Following again would overwrite what this store granted as a primary with an older primary's
      // state, silently (docs/replication.md, "Promotion"): refuse instead.
      this.#conn.db.close();
      throw new LeaseholdError(
        'REPLICA_PROMOTED',
        `this data directory was promoted to a primary at epoch ${epoch.epoch}; start it without --replica-of, or follow the new primary from an empty data directory`,
      );
    }
    if (options.followsPrimary !== true) this.#replica.takeOverIfFollowed();
    try {
      this.#conn.syncOpenWrites();
    } catch (err) {
      this.#conn.db.close();
      throw err;
    }
    const integrity = new LicenseIntegrity({
      keys: options.licenseKeys,
      record: (event) => this.recordAudit(event),
      now: options.now ?? Date.now,
      node,
    });
    const licenses = new SqliteLicenses(ctx, integrity);
    const leases = new SqliteLeases(ctx, licenses);
    this.parts = {
      licenses,
      checkout: new SqliteCheckout(ctx, licenses, leases),
      leases,
      tokens: new SqliteTokens(ctx),
      signingKeys: new SqliteSigningKeys(ctx),
      feed: new SqliteFeed(ctx),
    };
  }

  /** The raw handle, for integrity checks (`PRAGMA integrity_check`) and at-rest checks in tests. */
  get database(): Database.Database {
    return this.#conn.db;
  }

  async ping(): Promise<void> {
    await this.#conn.read(() => this.#conn.sql.ping.get());
  }

  close(): Promise<void> {
    return this.#conn.close();
  }

  rotateKek(newKek: Uint8Array): Promise<KekRotation> {
    return rotateKek(this.#conn, this.#cipher, newKek, this.#random);
  }

  // Audit trail ----------------------------------------------------------------------------------

  recordAudit(event: AuditEvent): Promise<void> {
    return this.#conn.write(() => this.#audit.record(event));
  }

  sealAudit(limit: number): Promise<AuditSealResult> {
    return this.#conn.write(() => this.#audit.seal(limit));
  }

  auditStatus(): Promise<AuditStatus> {
    return this.#conn.read(() => this.#audit.status());
  }

  auditEntries(query: AuditQuery): Promise<AuditEntry[]> {
    return this.#conn.read(() => this.#audit.entries(query));
  }

  pendingAudit(limit: number): Promise<AuditEvent[]> {
    return this.#conn.read(() => this.#audit.pending(limit));
  }

  saveAuditCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.#conn.write(() => {
      this.#conn.nextRevision();
      this.#audit.saveCheckpoint(checkpoint);
      this.#changes.checkpoint(checkpoint.seq);
    });
  }

  listAuditCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.#conn.read(() => this.#audit.checkpoints());
  }

  pruneAudit(throughSeq: number): Promise<AuditHead> {
    return this.#conn.write(() => {
      const before = this.#audit.checkpoints();
      const head = this.#audit.prune(throughSeq);
      const after = new Set(this.#audit.checkpoints().map((c) => c.seq));
      const gone = before.filter((c) => !after.has(c.seq));
      if (gone.length > 0) {
        this.#conn.nextRevision();
        for (const c of gone) this.#changes.checkpoint(c.seq);
      }
      return head;
    });
  }

  // Fencing epoch (port/fencing-epoch.ts) ----------------------------------------------------------

  epochState(): Promise<EpochState> {
    return this.#conn.read(() => this.#epochs.state());
  }

  /**
   * One transaction: a store that followed a primary takes over (seat pools rebuilt from the replicated
   * leases, its own feed started afresh) and moves to the next epoch, in learning mode until
   * `now + learningMs`. A crash before the commit leaves it a replica; after, a promoted primary.
   */
  promoteEpoch(input: PromoteInput): Promise<EpochState> {
    return this.#conn.write(() => {
      this.#replica.takeOver();
      return this.#epochs.promote(input);
    });
  }

  fenceEpoch(input: FenceInput): Promise<EpochState> {
    return this.#conn.write(() => this.#epochs.fence(input));
  }

  // Replica side of the change feed (port/replica-target.ts) --------------------------------------

  replicaPosition(): Promise<ReplicaPosition> {
    return this.#replica.replicaPosition();
  }

  applyChanges(
    changes: readonly Change[],
    page: { readonly through: number; readonly head: number; readonly epoch?: number | undefined },
    now: number,
  ): Promise<ApplyResult> {
    return this.#replica.applyChanges(changes, page, now);
  }

  replaceState(snapshot: ReplicationSnapshot, now: number): Promise<ApplyResult> {
    return this.#replica.replaceState(snapshot, now);
  }
}
