import type {
  AuditContext,
  AuditEntry,
  AuditEvent,
  AuditHead,
  InstalledLicense,
  Lease,
  License,
  StoredCheckpoint,
} from '@leasehold/domain';
import type Database from 'better-sqlite3';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type {
  AcquireSeatInput,
  AcquireSeatResult,
  ApiTokenRecord,
  AuditQuery,
  AuditSealResult,
  AuditStatus,
  ForceReleaseInput,
  InstallLicenseResult,
  KekRotation,
  LeaseQuery,
  LeaseRef,
  LeaseStore,
  SeatUsage,
  StoredSigningKey,
} from '../port/lease-store.js';
import { SqliteAudit } from './sqlite-audit.js';
import { SqliteCheckout } from './sqlite-checkout.js';
import { SqliteConnection } from './sqlite-connection.js';
import { SqliteContext } from './sqlite-context.js';
import { openDataKey, rotateKek } from './sqlite-data-key.js';
import { SqliteLeases } from './sqlite-leases.js';
import { SqliteLicenses } from './sqlite-licenses.js';
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
}

/**
 * The embedded backend. better-sqlite3 is synchronous, so every operation is one `BEGIN IMMEDIATE`
 * transaction that runs to its end without yielding: atomic within this process by construction and
 * across processes by SQLite's write lock.
 *
 * This class only routes: each concept is one collaborator (docs/architecture.md, "Store layout").
 */
export class SqliteStore implements LeaseStore {
  readonly backend = 'sqlite';
  readonly #conn: SqliteConnection;
  readonly #audit: SqliteAudit;
  readonly #cipher: RecordCipher;
  readonly #random: RandomBytes | undefined;
  readonly #licenses: SqliteLicenses;
  readonly #checkout: SqliteCheckout;
  readonly #leases: SqliteLeases;
  readonly #tokens: SqliteTokens;
  readonly #signingKeys: SqliteSigningKeys;

  constructor(options: SqliteStoreOptions) {
    this.#conn = new SqliteConnection(options);
    this.#audit = new SqliteAudit(this.#conn.db);
    this.#random = options.random;
    try {
      this.#cipher = openDataKey(this.#conn, options.kek, options.random);
    } catch (err) {
      this.#conn.db.close();
      throw err;
    }
    const ctx = new SqliteContext(this.#conn, this.#cipher, this.#audit, options.node ?? 'embedded');
    this.#licenses = new SqliteLicenses(ctx);
    this.#leases = new SqliteLeases(ctx, this.#licenses);
    this.#checkout = new SqliteCheckout(ctx, this.#licenses, this.#leases);
    this.#tokens = new SqliteTokens(ctx);
    this.#signingKeys = new SqliteSigningKeys(ctx);
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

  // Licenses -------------------------------------------------------------------------------------

  installLicense(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    return this.#licenses.install(license, now, audit);
  }

  getLicense(id: string): Promise<InstalledLicense | undefined> {
    return this.#licenses.get(id);
  }

  listLicenses(): Promise<InstalledLicense[]> {
    return this.#licenses.list();
  }

  revokeLicense(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    return this.#licenses.revoke(id, now, audit);
  }

  // Seats ----------------------------------------------------------------------------------------

  acquireSeat(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    return this.#checkout.acquire(input);
  }

  renewLease(input: LeaseRef): Promise<Lease> {
    return this.#leases.renew(input);
  }

  releaseSeat(input: LeaseRef): Promise<Lease> {
    return this.#leases.release(input);
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    return this.#leases.forceRelease(input);
  }

  getLease(id: string): Promise<Lease | undefined> {
    return this.#leases.get(id);
  }

  listLeases(query: LeaseQuery): Promise<Lease[]> {
    return this.#leases.list(query);
  }

  seatUsage(now: number): Promise<SeatUsage[]> {
    return this.#leases.seatUsage(now);
  }

  expireLeases(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    return this.#leases.expire(now, limit, audit);
  }

  purgeEndedLeases(before: number): Promise<number> {
    return this.#leases.purge(before);
  }

  // Signing keys ---------------------------------------------------------------------------------

  ensureSigningKey(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    return this.#signingKeys.ensure(candidate);
  }

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#signingKeys.list();
  }

  // Tokens ---------------------------------------------------------------------------------------

  createToken(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#tokens.create(record, audit);
  }

  replaceNamedToken(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    return this.#tokens.replaceNamed(record, audit);
  }

  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    return this.#tokens.findByHash(hash);
  }

  listTokens(): Promise<ApiTokenRecord[]> {
    return this.#tokens.list();
  }

  revokeToken(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#tokens.revoke(id, now, audit);
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
    return this.#conn.write(() => this.#audit.saveCheckpoint(checkpoint));
  }

  listAuditCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.#conn.read(() => this.#audit.checkpoints());
  }

  pruneAudit(throughSeq: number): Promise<AuditHead> {
    return this.#conn.write(() => this.#audit.prune(throughSeq));
  }
}
