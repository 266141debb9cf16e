import {
  type AuditAction,
  type AuditContext,
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  assertRenewable,
  assertSameCheckout,
  auditEvent,
  checkoutCandidates,
  type InstalledLicense,
  installOutcome,
  type Lease,
  type LeaseEndReason,
  LeaseholdError,
  type License,
  leaseWindow,
  type StoredCheckpoint,
  seatsExhausted,
} from '@leasehold/domain';
import Database from 'better-sqlite3';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import {
  newDataKey,
  parseWrappedDataKey,
  unwrapDataKey,
  type WrappedDataKey,
  wrapDataKey,
} from '../crypto/data-key.js';
import { kekFingerprint } from '../crypto/key-encryption-key.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { openLicense, openSigningKey, sealLicense, sealSigningKey } from '../crypto/sealed-records.js';
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
import { GroupCommitter } from './group-commit.js';
import {
  type EntitlementRow,
  type LeaseRow,
  type LicenseRow,
  leaseFromRow,
  licenseFromRow,
  type SigningKeyRow,
  signingKeyFromRow,
  type TokenRow,
  tokenFromRow,
} from './rows.js';
import { MIGRATIONS } from './schema.js';
import { SqliteAudit } from './sqlite-audit.js';
import { prepareStatements, type Statements } from './statements.js';

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
 */
export class SqliteStore implements LeaseStore {
  readonly backend = 'sqlite';
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #commits: GroupCommitter;
  readonly #audit: SqliteAudit;
  readonly #node: string;
  readonly #cipher: RecordCipher;
  readonly #random: RandomBytes | undefined;
  #licenseCache: { revision: number; licenses: InstalledLicense[] } | undefined;

  constructor(options: SqliteStoreOptions) {
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
    this.#migrate();
    this.#sql = prepareStatements(this.#db);
    this.#commits = new GroupCommitter(this.#db, translate);
    this.#audit = new SqliteAudit(this.#db);
    this.#node = options.node ?? 'embedded';
    this.#random = options.random;
    try {
      this.#cipher = this.#openDataKey(options.kek, options.random);
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /**
   * Unwraps the store's data key, or makes one at first open. A data file written before encryption at
   * rest is encrypted in the same transaction that stores the new data key: no plaintext stays behind.
   */
  #openDataKey(kek: Uint8Array, random: RandomBytes | undefined): RecordCipher {
    let migrated = 0;
    const cipher = this.#db
      .transaction(() => {
        const row = this.#sql.getDataKey.get() as { record: string } | undefined;
        if (row) return new RecordCipher(unwrapDataKey(parseWrappedDataKey(row.record), kek), random);
        const dataKey = newDataKey(random);
        const wrapped: WrappedDataKey = wrapDataKey(dataKey, kek, random);
        this.#sql.insertDataKey.run(wrapped.id, JSON.stringify(wrapped));
        const cipher = new RecordCipher(dataKey, random);
        for (const row of this.#sql.allLicenses.all() as LicenseRow[]) {
          if (RecordCipher.isSealed(row.raw)) continue;
          const sealed = sealLicense(licenseFromRow(row, []), cipher);
          this.#sql.sealLicenseSecrets.run(sealed.raw, sealed.customer, row.id);
          migrated++;
        }
        for (const row of this.#sql.listSigningKeys.all() as SigningKeyRow[]) {
          if (RecordCipher.isSealed(row.private_pem)) continue;
          this.#sql.sealSigningKey.run(sealSigningKey(signingKeyFromRow(row), cipher).privatePem, row.kid);
          migrated++;
        }
        return cipher;
      })
      .immediate();
    // The plaintext the migration replaced still sits in free pages: rewrite the file without them.
    if (migrated > 0) this.#db.exec('VACUUM');
    return cipher;
  }

  /**
   * `leasehold kek rotate`: wraps the data key under `newKek` (this store was opened with the old one).
   * Records are not rewritten; nodes that run keep the data key in memory and need `newKek` at their
   * next start.
   */
  rotateKek(newKek: Uint8Array): Promise<KekRotation> {
    return this.#write(() => {
      const row = this.#sql.getDataKey.get() as { record: string } | undefined;
      if (!row) throw new Error('the data key vanished from an open store');
      const current = parseWrappedDataKey(row.record);
      if (current.id !== this.#cipher.dataKey.id) throw new Error('the data key changed under an open store');
      // The open already proved the old KEK; the data key itself is in memory.
      const rewrapped = wrapDataKey(this.#cipher.dataKey, newKek, this.#random);
      this.#sql.updateDataKey.run(JSON.stringify(rewrapped), rewrapped.id);
      return { dataKeyId: rewrapped.id, kek: kekFingerprint(newKek) };
    });
  }

  /** The raw handle, for integrity checks in tests and `leasehold doctor`. */
  get database(): Database.Database {
    return this.#db;
  }

  #migrate(): void {
    const current = this.#db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`the data file has schema ${current}; this Leasehold knows up to ${MIGRATIONS.length}`);
    }
    this.#db.transaction(() => {
      MIGRATIONS.slice(current).forEach((sql) => {
        this.#db.exec(sql);
      });
      this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
  }

  /**
   * Runs `fn` atomically in a write transaction (batched with concurrent writes, see GroupCommitter);
   * SQLite lock timeouts and I/O errors become the retryable STORE_UNAVAILABLE.
   */
  #write<T>(fn: () => T): Promise<T> {
    if (!this.#db.open) return Promise.reject(closedStore());
    return this.#commits.run(fn);
  }

  #read<T>(fn: () => T): Promise<T> {
    if (!this.#db.open) return Promise.reject(closedStore());
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  #nextRevision(): number {
    return (this.#sql.bumpRevision.get() as { value: number }).value;
  }

  #license(id: string): InstalledLicense | undefined {
    return this.#allLicenses().find((license) => license.id === id);
  }

  /**
   * All licenses, cached until the store's license revision moves. Every checkout needs them and they
   * change rarely; reading one counter is far cheaper than reading every license and entitlement. The
   * counter lives in the database, so another process writing the same file invalidates this cache too.
   */
  #allLicenses(): InstalledLicense[] {
    const revision = (this.#sql.licenseRevision.get() as { value: number }).value;
    if (this.#licenseCache?.revision !== revision) {
      this.#licenseCache = { revision, licenses: this.#loadLicenses() };
    }
    return this.#licenseCache.licenses;
  }

  #loadLicenses(): InstalledLicense[] {
    const byLicense = new Map<string, EntitlementRow[]>();
    for (const e of this.#sql.allEntitlements.all() as EntitlementRow[]) {
      const list = byLicense.get(e.license_id) ?? [];
      list.push(e);
      byLicense.set(e.license_id, list);
    }
    return (this.#sql.allLicenses.all() as LicenseRow[]).map((row) =>
      openLicense(licenseFromRow(row, byLicense.get(row.id) ?? []), this.#cipher),
    );
  }

  #lease(id: string, licenseScope?: string): Lease {
    const row = this.#sql.getLease.get(id) as LeaseRow | undefined;
    // A lease of another license is invisible to a client token scoped to one license.
    if (!row || (licenseScope !== undefined && row.license_id !== licenseScope)) {
      throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${id}"`);
    }
    return leaseFromRow(row);
  }

  async ping(): Promise<void> {
    await this.#read(() => this.#sql.ping.get());
  }

  async close(): Promise<void> {
    await this.#commits.drain();
    if (this.#db.open) this.#db.close();
  }

  // Licenses -------------------------------------------------------------------------------------

  installLicense(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    return this.#write(() => {
      const outcome = installOutcome(this.#license(license.id), license);
      if (outcome !== 'unchanged') {
        this.#nextRevision();
        this.#sql.bumpLicenseRevision.run();
        const sealed = sealLicense(license, this.#cipher);
        this.#sql.upsertLicense.run({
          id: license.id,
          version: license.version,
          issuer: license.issuer ?? null,
          customer: sealed.customer,
          product: license.product,
          issued_at: license.issuedAt,
          not_before: license.notBefore,
          expires_at: license.expiresAt,
          lease_ttl_ms: license.lease.ttlMs,
          lease_grace_ms: license.lease.graceMs,
          lease_policy: license.lease.policy,
          signed_by: license.signedBy,
          raw: sealed.raw,
          installed_at: now,
        });
        this.#sql.deleteEntitlements.run(license.id);
        for (const e of license.entitlements) this.#sql.insertEntitlement.run(license.id, e.feature, e.seats);
        this.#record(audit, `license.${outcome}`, `license:${license.id}`, now, { version: license.version });
      }
      const installed = this.#license(license.id);
      if (!installed) throw new Error('license vanished inside its own transaction');
      return { outcome, license: installed };
    });
  }

  getLicense(id: string): Promise<InstalledLicense | undefined> {
    return this.#read(() => this.#license(id));
  }

  listLicenses(): Promise<InstalledLicense[]> {
    return this.#read(() => this.#allLicenses());
  }

  revokeLicense(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    return this.#write(() => {
      const existing = this.#license(id);
      if (!existing) throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${id}" is installed`);
      if (existing.revokedAt !== undefined) return existing;
      this.#nextRevision();
      this.#sql.bumpLicenseRevision.run();
      this.#sql.revokeLicense.run(now, id);
      this.#record(audit, 'license.revoked', `license:${id}`, now);
      return { ...existing, revokedAt: now };
    });
  }

  // Seats ----------------------------------------------------------------------------------------

  acquireSeat(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    return this.#write(() => {
      const previous = this.#sql.getLeaseByRequest.get(input.client.id, input.requestId) as
        | LeaseRow
        | undefined;
      if (previous) {
        const lease = leaseFromRow(previous);
        assertSameCheckout(lease, input);
        return { lease, replayed: true };
      }
      const candidates = checkoutCandidates(this.#allLicenses(), input.feature, input.licenseId, input.now);
      let seats = 0;
      for (const license of candidates) {
        const licensed = license.entitlements.find((e) => e.feature === input.feature)?.seats ?? 0;
        seats += licensed;
        const slot = this.#freeSlot(license.id, input.feature, licensed, input.now);
        if (slot === undefined) continue;
        const window = leaseWindow(license.lease, input.now, license.expiresAt);
        const row: LeaseRow = {
          id: input.leaseId,
          license_id: license.id,
          feature: input.feature,
          slot,
          fence: this.#nextRevision(),
          client_id: input.client.id,
          client_host: input.client.host ?? null,
          client_user: input.client.user ?? null,
          request_id: input.requestId,
          created_at: input.now,
          renewed_at: input.now,
          expires_at: window.expiresAt,
          reserved_until: window.reservedUntil,
          grace_ms: license.lease.graceMs,
          revoked_at: null,
          ended_at: null,
          end_reason: null,
        };
        this.#sql.insertLease.run(row);
        this.#sql.removeFreeSlot.run(license.id, input.feature, slot);
        this.#sql.takeSlotFromPool.run({ license_id: license.id, feature: input.feature, slot });
        this.#record(input.audit, 'lease.granted', `lease:${row.id}`, input.now, {
          license: license.id,
          feature: input.feature,
          slot,
          client: input.client.id,
        });
        return { lease: leaseFromRow(row), replayed: false };
      }
      throw seatsExhausted(input.feature, seats);
    });
  }

  /**
   * The slot a new lease of this pool gets, or undefined when the pool is full. Overdue leases are ended
   * only when the pool looks full: until then a free seat exists anyway, and the sweeper ends them.
   */
  #freeSlot(licenseId: string, feature: string, seats: number, now: number): number | undefined {
    this.#sql.ensurePool.run(licenseId, feature);
    let pool = this.#sql.getPool.get(licenseId, feature) as { live: number; high_water: number };
    if (pool.live >= seats) {
      for (const row of this.#sql.overdueInPool.all(licenseId, feature, now) as LeaseRow[]) {
        this.#end(row, row.reserved_until, 'expired', { actor: 'system:expiry', node: this.#node }, now);
      }
      pool = this.#sql.getPool.get(licenseId, feature) as { live: number; high_water: number };
      if (pool.live >= seats) return undefined;
    }
    const reused = this.#sql.lowestFreeSlot.get(licenseId, feature, seats) as { slot: number } | undefined;
    if (reused) return reused.slot;
    // No ended slot below the seat count: take a new one. (A downgraded license may leave live leases
    // above it; they count in `live`, so this never grants past the seat count.)
    return pool.high_water < seats ? pool.high_water : undefined;
  }

  /** Ends one live lease and gives its slot back to its pool. Every way a lease ends goes through here. */
  #end(
    row: Pick<LeaseRow, 'id' | 'license_id' | 'feature' | 'slot'>,
    at: number,
    reason: LeaseEndReason,
    audit: AuditContext | undefined,
    now: number,
    action: AuditAction = reason === 'released'
      ? 'lease.released'
      : reason === 'expired'
        ? 'lease.expired'
        : 'lease.force-released',
  ): void {
    if (this.#sql.endLease.run(at, reason, row.id).changes === 0) return;
    this.#sql.returnSlotToPool.run(row.license_id, row.feature);
    this.#sql.addFreeSlot.run(row.license_id, row.feature, row.slot);
    this.#record(audit, action, `lease:${row.id}`, now, {
      license: row.license_id,
      feature: row.feature,
      slot: row.slot,
      ...(reason === 'revoked' ? { immediate: true } : {}),
    });
  }

  /** The pending audit record of a change, inside the change's own transaction. */
  #record(
    audit: AuditContext | undefined,
    action: AuditAction,
    subject: string,
    time: number,
    details?: AuditEvent['details'],
  ): void {
    this.#audit.record(
      auditEvent(audit ?? { actor: 'system', node: this.#node }, action, subject, time, details),
    );
  }

  renewLease(input: LeaseRef): Promise<Lease> {
    return this.#write(() => {
      const lease = this.#lease(input.leaseId, input.licenseId);
      const license = this.#license(lease.licenseId);
      assertRenewable(lease, license, input.now);
      if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
      const window = leaseWindow(license.lease, input.now, license.expiresAt);
      // Never shorten a reservation: a token issued earlier may rely on it.
      const expiresAt = Math.max(window.expiresAt, lease.expiresAt);
      const reservedUntil = Math.max(window.reservedUntil, lease.reservedUntil);
      this.#nextRevision();
      this.#sql.renewLease.run(input.now, expiresAt, reservedUntil, license.lease.graceMs, lease.id);
      return { ...lease, renewedAt: input.now, expiresAt, reservedUntil, graceMs: license.lease.graceMs };
    });
  }

  releaseSeat(input: LeaseRef): Promise<Lease> {
    return this.#write(() => {
      const lease = this.#lease(input.leaseId, input.licenseId);
      if (lease.endReason !== undefined) return lease;
      const expired = input.now >= lease.reservedUntil;
      const ended: Lease = expired
        ? { ...lease, endedAt: lease.reservedUntil, endReason: 'expired' }
        : { ...lease, endedAt: input.now, endReason: 'released' };
      this.#nextRevision();
      this.#end(
        leaseRow(lease),
        ended.endedAt ?? input.now,
        ended.endReason ?? 'released',
        input.audit,
        input.now,
      );
      return ended;
    });
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    return this.#write(() => {
      const lease = this.#lease(input.leaseId, input.licenseId);
      if (lease.endReason !== undefined) return lease;
      if (input.now >= lease.reservedUntil) {
        this.#nextRevision();
        this.#end(leaseRow(lease), lease.reservedUntil, 'expired', input.audit, input.now);
        return { ...lease, endedAt: lease.reservedUntil, endReason: 'expired' as const };
      }
      this.#nextRevision();
      if (input.immediate) {
        this.#sql.revokeLease.run(input.now, lease.id);
        this.#end(leaseRow(lease), input.now, 'revoked', input.audit, input.now);
        return { ...lease, revokedAt: input.now, endedAt: input.now, endReason: 'revoked' as const };
      }
      this.#sql.revokeLease.run(input.now, lease.id);
      if (lease.revokedAt === undefined) {
        this.#record(input.audit, 'lease.force-released', `lease:${lease.id}`, input.now, {
          license: lease.licenseId,
          feature: lease.feature,
          slot: lease.slot,
          immediate: false,
        });
      }
      return { ...lease, revokedAt: lease.revokedAt ?? input.now };
    });
  }

  getLease(id: string): Promise<Lease | undefined> {
    return this.#read(() => {
      const row = this.#sql.getLease.get(id) as LeaseRow | undefined;
      return row && leaseFromRow(row);
    });
  }

  listLeases(query: LeaseQuery): Promise<Lease[]> {
    return this.#read(() => {
      const rows = this.#sql.listLeases.all({
        now: query.now,
        license_id: query.licenseId ?? null,
        feature: query.feature ?? null,
        include_ended: query.includeEnded ? 1 : 0,
        limit: query.limit ?? 10_000,
      }) as LeaseRow[];
      return rows.map(leaseFromRow);
    });
  }

  seatUsage(now: number): Promise<SeatUsage[]> {
    return this.#read(() =>
      (
        this.#sql.seatUsage.all(now) as {
          license_id: string;
          feature: string;
          seats: number;
          in_use: number;
        }[]
      ).map((r) => ({ licenseId: r.license_id, feature: r.feature, seats: r.seats, inUse: r.in_use })),
    );
  }

  expireLeases(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    return this.#write(() => {
      const rows = this.#sql.overdueLeases.all(now, limit) as LeaseRow[];
      if (rows.length === 0) return [];
      this.#nextRevision();
      return rows.map((row) => {
        this.#end(row, row.reserved_until, 'expired', audit, now);
        return leaseFromRow({ ...row, ended_at: row.reserved_until, end_reason: 'expired' });
      });
    });
  }

  purgeEndedLeases(before: number): Promise<number> {
    return this.#write(() => this.#sql.purgeEnded.run(before).changes);
  }

  // Signing keys ---------------------------------------------------------------------------------

  ensureSigningKey(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    return this.#write(() => {
      const existing = this.#sql.listSigningKeys.all() as SigningKeyRow[];
      if (existing.length > 0) return existing.map((row) => this.#signingKey(row));
      this.#nextRevision();
      const sealed = sealSigningKey(candidate, this.#cipher);
      this.#sql.insertSigningKey.run(sealed.kid, sealed.privatePem, sealed.createdAt);
      return [candidate];
    });
  }

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#read(() =>
      (this.#sql.listSigningKeys.all() as SigningKeyRow[]).map((row) => this.#signingKey(row)),
    );
  }

  #signingKey(row: SigningKeyRow): StoredSigningKey {
    return openSigningKey(signingKeyFromRow(row), this.#cipher);
  }

  // Tokens ---------------------------------------------------------------------------------------

  createToken(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#write(() => {
      this.#nextRevision();
      this.#sql.insertToken.run(tokenRow(record));
      this.#recordToken(audit, 'token.created', record, record.createdAt);
      return record;
    });
  }

  replaceNamedToken(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    return this.#write(() => {
      this.#nextRevision();
      for (const row of this.#sql.listTokens.all() as TokenRow[]) {
        if (row.name === record.name && row.hash !== record.hash && row.revoked_at === null) {
          this.#recordToken(audit, 'token.revoked', tokenFromRow(row), record.createdAt);
        }
      }
      this.#sql.revokeNamedTokensExcept.run(record.createdAt, record.name, record.hash);
      const existing = this.#sql.findTokenByHash.get(record.hash) as TokenRow | undefined;
      if (existing && existing.revoked_at === null) return tokenFromRow(existing);
      if (existing) this.#sql.deleteToken.run(existing.id);
      this.#sql.insertToken.run(tokenRow(record));
      this.#recordToken(audit, 'token.created', record, record.createdAt);
      return record;
    });
  }

  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    return this.#read(() => {
      const row = this.#sql.findTokenByHash.get(hash) as TokenRow | undefined;
      return row && tokenFromRow(row);
    });
  }

  listTokens(): Promise<ApiTokenRecord[]> {
    return this.#read(() => (this.#sql.listTokens.all() as TokenRow[]).map(tokenFromRow));
  }

  revokeToken(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#write(() => {
      const row = this.#sql.getToken.get(id) as TokenRow | undefined;
      if (!row) throw new LeaseholdError('TOKEN_NOT_FOUND', `no API token "${id}"`);
      if (row.revoked_at !== null) return tokenFromRow(row);
      this.#nextRevision();
      this.#sql.revokeToken.run(now, id);
      this.#recordToken(audit, 'token.revoked', tokenFromRow(row), now);
      return tokenFromRow({ ...row, revoked_at: now });
    });
  }

  #recordToken(
    audit: AuditContext | undefined,
    action: AuditAction,
    token: ApiTokenRecord,
    now: number,
  ): void {
    this.#record(audit, action, `token:${token.id}`, now, {
      scope: token.scope,
      ...(token.licenseId !== undefined ? { license: token.licenseId } : {}),
      ...(token.name !== undefined ? { name: token.name } : {}),
    });
  }

  // Audit trail ----------------------------------------------------------------------------------

  recordAudit(event: AuditEvent): Promise<void> {
    return this.#write(() => this.#audit.record(event));
  }

  sealAudit(limit: number): Promise<AuditSealResult> {
    return this.#write(() => this.#audit.seal(limit));
  }

  auditStatus(): Promise<AuditStatus> {
    return this.#read(() => this.#audit.status());
  }

  auditEntries(query: AuditQuery): Promise<AuditEntry[]> {
    return this.#read(() => this.#audit.entries(query));
  }

  pendingAudit(limit: number): Promise<AuditEvent[]> {
    return this.#read(() => this.#audit.pending(limit));
  }

  saveAuditCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.#write(() => this.#audit.saveCheckpoint(checkpoint));
  }

  listAuditCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.#read(() => this.#audit.checkpoints());
  }

  pruneAudit(throughSeq: number): Promise<AuditHead> {
    return this.#write(() => this.#audit.prune(throughSeq));
  }
}

function leaseRow(lease: Lease): Pick<LeaseRow, 'id' | 'license_id' | 'feature' | 'slot'> {
  return { id: lease.id, license_id: lease.licenseId, feature: lease.feature, slot: lease.slot };
}

function tokenRow(record: ApiTokenRecord): TokenRow {
  return {
    id: record.id,
    hash: record.hash,
    scope: record.scope,
    license_id: record.licenseId ?? null,
    name: record.name ?? null,
    created_at: record.createdAt,
    revoked_at: record.revokedAt ?? null,
  };
}

function closedStore(): LeaseholdError {
  return new LeaseholdError('STORE_UNAVAILABLE', 'the embedded store is closed (the node is shutting down)');
}

function translate(err: unknown): unknown {
  if (err instanceof LeaseholdError) return err;
  const code = (err as { code?: unknown }).code;
  if (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    code === 'SQLITE_IOERR' ||
    code === 'SQLITE_FULL'
  ) {
    return new LeaseholdError('STORE_UNAVAILABLE', `the embedded store failed: ${String(code)}`, undefined, {
      cause: err,
    });
  }
  return err;
}
