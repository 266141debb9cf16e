import type {
  AuditContext,
  AuditEntry,
  AuditEvent,
  AuditHead,
  ClientInfo,
  InstalledLicense,
  Lease,
  LeaseholdError,
  License,
  StoredCheckpoint,
} from '@leasehold/domain';
import type { FencingEpochs } from './fencing-epoch.js';
import type { ReplicationFeed } from './replication-feed.js';

/**
 * The store port: every operation is named by its intent and is atomic inside the backend (one SQLite
 * transaction, one etcd transaction). Application code never reads, decides and writes back — that is
 * how oversubscription happens under concurrency. Both backends pass `test/contract/` unchanged.
 *
 * Failures are `LeaseholdError`s with registry codes; a backend that cannot reach its data throws
 * `STORE_UNAVAILABLE` (retryable).
 */
export interface LeaseStore extends ReplicationFeed, FencingEpochs {
  /** `sqlite`, `etcd`, … — for logs and `/v1/cluster`. */
  readonly backend: string;
  /** Resolves when the store can serve a linearizable read now; throws STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Wraps the store's data key under a new key-encryption key (`leasehold kek rotate`; the store was
   * opened with the old one). Records stay as they are; nodes keep the data key in memory until restart.
   */
  rotateKek(newKek: Uint8Array): Promise<KekRotation>;

  // Licenses -------------------------------------------------------------------------------------
  /** Installs a verified license, or a newer version of it. A lower or different same version is a replay. */
  installLicense(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult>;
  getLicense(id: string): Promise<InstalledLicense | undefined>;
  listLicenses(): Promise<InstalledLicense[]>;
  /** Stops new checkouts and renewals under the license at once. Idempotent. */
  revokeLicense(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense>;

  // Seats ----------------------------------------------------------------------------------------
  /**
   * Grants a seat, or returns the lease an earlier call with the same (client id, request id) granted.
   * Throws SEATS_EXHAUSTED, FEATURE_NOT_LICENSED, LICENSE_* or REQUEST_ID_CONFLICT.
   */
  acquireSeat(input: AcquireSeatInput): Promise<AcquireSeatResult>;
  /** Extends a live lease by its license's TTL from `now`. Never shortens a reservation. */
  renewLease(input: LeaseRef): Promise<Lease>;
  /**
   * Renews several leases at once (a client holding many): one SQLite transaction, or on etcd one read
   * and the renewals handed to the group-commit batcher together (one Raft proposal when they fit).
   * Each lease succeeds or fails on its own, as `renewLease` would; the answer is in input order. Lease
   * ids must be distinct (a TypeError otherwise: etcd cannot write one key twice in a transaction).
   */
  renewLeases(inputs: readonly LeaseRef[]): Promise<RenewOutcome[]>;
  /** Client check-in: the seat is free at once. Idempotent: an ended lease is returned as it is. */
  releaseSeat(input: LeaseRef): Promise<Lease>;
  /**
   * Operator force-release. By default the lease stops renewing and its seat frees when the reservation
   * its last token relied on runs out; `immediate` frees the seat now (deliberate, audited over-use).
   */
  forceRelease(input: ForceReleaseInput): Promise<Lease>;
  getLease(id: string): Promise<Lease | undefined>;
  /**
   * A page of leases: those holding seats by deadline (`reservedUntil`, then id), or with `includeEnded`
   * every stored lease by id. `after` is the cursor of the last lease of the previous page
   * (`leaseCursor`); a lease renewed between two pages moves to a later deadline, so it may show twice
   * but is never skipped.
   */
  listLeases(query: LeaseQuery): Promise<Lease[]>;
  seatUsage(now: number): Promise<SeatUsage[]>;
  /**
   * Marks leases whose reservation ran out as expired; returns them. Seats are free at the deadline
   * anyway. Found through a deadline index (SQLite: an index on `reserved_until`; etcd: the
   * `by-deadline/` key range), so a sweep reads the overdue leases only, never every live one.
   */
  expireLeases(now: number, limit: number, audit?: AuditContext): Promise<Lease[]>;
  /** Forgets ended leases (and so their request ids) that ended before `before`. */
  purgeEndedLeases(before: number): Promise<number>;

  // Seat blocks lent to edge sites (docs/replication.md) -------------------------------------------
  /**
   * Holds `seats` seats of one (license, feature) for an edge site until `now + holdMs`: renews the seats
   * the site holds, gives back those above `seats` (a shrink) and takes more up to `seats` while the pool
   * has free ones (a grow, granted in part when it has not). Each seat of a block is an ordinary lease of
   * its pool (client `edge:<site>`, no grace), so the pool's count and the no-oversubscription proof are
   * the leases' own. A retry with the same request id takes no second set of seats.
   */
  holdSeatBlock(input: SeatBlockInput): Promise<SeatBlock>;
  /** Gives back every seat the site holds of one (license, feature). Idempotent. */
  releaseSeatBlock(input: SeatBlockRef): Promise<SeatBlock>;
  /** The blocks held at `now`, one per (site, license, feature). */
  listSeatBlocks(now: number): Promise<SeatBlock[]>;

  // Cluster signing keys -------------------------------------------------------------------------
  /** Stores `candidate` unless a signing key exists already; returns all keys, newest first. */
  ensureSigningKey(candidate: StoredSigningKey): Promise<StoredSigningKey[]>;
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /**
   * Stores `candidate` as the cluster's identity key unless one exists; returns the one stored. It never
   * changes: its thumbprint is the cluster id licenses bind to (issue 11, docs/security.md).
   */
  ensureClusterIdentity(candidate: StoredSigningKey): Promise<StoredSigningKey>;

  // API tokens (only hashes are stored) ----------------------------------------------------------
  createToken(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord>;
  /**
   * Makes `record` the one live token of its name (the bootstrap admin token): revokes the others of that
   * name and creates it unless a live token with its hash exists. Returns the live record.
   */
  replaceNamedToken(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord>;
  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  listTokens(): Promise<ApiTokenRecord[]>;
  revokeToken(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord>;

  // Audit trail (docs/audit.md) ------------------------------------------------------------------
  // Every state-changing method above writes its audit event as a *pending* record inside its own
  // transaction, naming `audit` (or, when a call passes none, `system` on the node the store was opened
  // for). Replays and unchanged installs record nothing. Renewals are not audited (see audit-event.ts).
  /** Records an event that is no store change of its own (node joined / left) as pending. */
  recordAudit(event: AuditEvent): Promise<void>;
  /**
   * Moves up to `limit` pending records, in commit order, into the hash chain (one guarded transaction
   * per batch, so two sealers never fork the chain). Run by the elected node.
   */
  sealAudit(limit: number): Promise<AuditSealResult>;
  /** Head of the sealed chain, where the live part starts, and how many records await sealing. */
  auditStatus(): Promise<AuditStatus>;
  /** Sealed entries still in the store, by seq: ascending after `afterSeq`, or newest first before `beforeSeq`. */
  auditEntries(query: AuditQuery): Promise<AuditEntry[]>;
  /** Pending (unsealed) events in commit order. */
  pendingAudit(limit: number): Promise<AuditEvent[]>;
  saveAuditCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  listAuditCheckpoints(): Promise<StoredCheckpoint[]>;
  /**
   * Deletes sealed entries up to `throughSeq` (written to an archive segment first) and moves the anchor
   * there, so the live part still verifies from it. Returns the new anchor.
   */
  pruneAudit(throughSeq: number): Promise<AuditHead>;
}

export interface AuditSealResult {
  readonly sealed: number;
  readonly head: AuditHead;
}

export interface AuditStatus {
  readonly head: AuditHead;
  /** Where the live chain starts: GENESIS_HEAD, or the last archived entry. */
  readonly anchor: AuditHead;
  /** Pending records: the unsealed tail. */
  readonly unsealed: number;
}

export interface AuditQuery {
  readonly afterSeq?: number | undefined;
  readonly beforeSeq?: number | undefined;
  readonly limit: number;
}

export interface KekRotation {
  readonly dataKeyId: string;
  /** Fingerprint of the KEK the data key is wrapped under now. */
  readonly kek: string;
}

export interface InstallLicenseResult {
  readonly outcome: 'installed' | 'upgraded' | 'unchanged';
  readonly license: InstalledLicense;
}

export interface AcquireSeatInput {
  /** The id a new lease gets; chosen by the caller (randomness is injected, STYLE.md rule 4). */
  readonly leaseId: string;
  readonly requestId: string;
  readonly feature: string;
  /** A specific license, or any usable license that grants the feature. */
  readonly licenseId?: string | undefined;
  readonly client: ClientInfo;
  /** When the write is sent: the lease window starts here. */
  readonly now: number;
  /** A fixed hold of this many ms, no grace (seat blocks), instead of the license's lease window. */
  readonly holdMs?: number | undefined;
  readonly audit?: AuditContext | undefined;
}

export interface AcquireSeatResult {
  readonly lease: Lease;
  /** True when an earlier call with the same request id granted this lease. */
  readonly replayed: boolean;
}

export interface LeaseRef {
  readonly leaseId: string;
  /** When set, only a lease of this license is visible (client tokens are scoped to one license). */
  readonly licenseId?: string | undefined;
  /**
   * When set, only the client the lease was granted to may act on it: another client id gets
   * LEASE_NOT_OWNED (issue 11). Routes set it for client tokens; operators act on any lease.
   */
  readonly clientId?: string | undefined;
  readonly now: number;
  /** Renew for a fixed hold of this many ms (seat blocks) instead of the license's lease window. */
  readonly holdMs?: number | undefined;
  /** Who acts (release and force-release are audited; renewals are not). */
  readonly audit?: AuditContext | undefined;
}

/** One lease's answer to `renewLeases`: the renewed lease, or why it could not be renewed. */
export type RenewOutcome =
  | { readonly ok: true; readonly lease: Lease }
  | { readonly ok: false; readonly error: LeaseholdError };

export interface SeatBlockRef {
  /** The edge site's name (its `--node-id`). */
  readonly site: string;
  readonly licenseId: string;
  readonly feature: string;
  readonly now: number;
  readonly audit?: AuditContext | undefined;
}

export interface SeatBlockInput extends SeatBlockRef {
  /** How many seats the site wants to hold: more than it holds is a grow, fewer a shrink. */
  readonly seats: number;
  /** How long the block is held from `now` (the block TTL); the site renews at a third of it. */
  readonly holdMs: number;
  /** The site's id for this request: a retry takes no second set of seats. */
  readonly requestId: string;
  /** Ids for the seats' new leases (randomness is injected, STYLE.md rule 4). */
  readonly newLeaseId: () => string;
}

export interface SeatBlock {
  readonly site: string;
  readonly licenseId: string;
  readonly feature: string;
  /** Seats held now, each until at least `heldUntil`. */
  readonly seats: number;
  /** The earliest deadline of the seats held, on the store's clock; `now` when none are held. */
  readonly heldUntil: number;
  /** The seats' lease ids. */
  readonly leaseIds: readonly string[];
}

export interface ForceReleaseInput extends LeaseRef {
  readonly immediate: boolean;
}

export interface LeaseQuery {
  readonly now: number;
  readonly licenseId?: string | undefined;
  readonly feature?: string | undefined;
  readonly includeEnded?: boolean | undefined;
  readonly limit?: number | undefined;
  /** The page starts after this cursor (`leaseCursor` of the previous page's last lease). */
  readonly after?: string | undefined;
}

export interface SeatUsage {
  readonly licenseId: string;
  readonly feature: string;
  readonly seats: number;
  readonly inUse: number;
}

export interface StoredSigningKey {
  readonly kid: string;
  /** PKCS#8 PEM. The backends encrypt it at rest under the data key (docs/security.md). */
  readonly privatePem: string;
  readonly createdAt: number;
}

/** `replica`: reads the change feed and snapshots (docs/replication.md); as sensitive as `admin`. */
export type TokenScope = 'admin' | 'operator' | 'client' | 'replica';

export interface ApiTokenRecord {
  readonly id: string;
  /** SHA-256 of the token, hex. The token itself is shown once and never stored. */
  readonly hash: string;
  readonly scope: TokenScope;
  readonly licenseId: string | undefined;
  readonly name: string | undefined;
  readonly createdAt: number;
  readonly revokedAt: number | undefined;
}
