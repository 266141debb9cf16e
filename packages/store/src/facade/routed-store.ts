import type { AuditContext, InstalledLicense, Lease, License } from '@leasehold/domain';
import type {
  AcquireSeatInput,
  AcquireSeatResult,
  ApiTokenRecord,
  ForceReleaseInput,
  InstallLicenseResult,
  LeaseQuery,
  LeaseRef,
  RenewOutcome,
  SeatBlock,
  SeatBlockInput,
  SeatBlockRef,
  SeatUsage,
  StoredSigningKey,
} from '../port/lease-store.js';
import type {
  ChangePage,
  ChangeQuery,
  ReplicationFeed,
  ReplicationSnapshot,
} from '../port/replication-feed.js';
import { SeatBlocks } from './seat-blocks.js';

/**
 * The concepts every backend has one collaborator for (docs/architecture.md, "Store layout"). Each
 * method is one atomic store operation of its backend.
 */
export interface StoreCollaborators {
  readonly licenses: {
    install(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult>;
    get(id: string): Promise<InstalledLicense | undefined>;
    list(): Promise<InstalledLicense[]>;
    revoke(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense>;
  };
  readonly checkout: { acquire(input: AcquireSeatInput): Promise<AcquireSeatResult> };
  readonly leases: {
    renew(input: LeaseRef): Promise<Lease>;
    renewMany(inputs: readonly LeaseRef[]): Promise<RenewOutcome[]>;
    release(input: LeaseRef): Promise<Lease>;
    forceRelease(input: ForceReleaseInput): Promise<Lease>;
    get(id: string): Promise<Lease | undefined>;
    list(query: LeaseQuery): Promise<Lease[]>;
    seatUsage(now: number): Promise<SeatUsage[]>;
    expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]>;
    purge(before: number): Promise<number>;
  };
  readonly tokens: {
    create(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord>;
    replaceNamed(
      record: ApiTokenRecord & { readonly name: string },
      audit?: AuditContext,
    ): Promise<ApiTokenRecord>;
    findByHash(hash: string): Promise<ApiTokenRecord | undefined>;
    list(): Promise<ApiTokenRecord[]>;
    revoke(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord>;
  };
  readonly signingKeys: {
    ensure(candidate: StoredSigningKey): Promise<StoredSigningKey[]>;
    list(): Promise<StoredSigningKey[]>;
    ensureIdentity(candidate: StoredSigningKey): Promise<StoredSigningKey>;
  };
  /** The change feed (docs/replication.md). */
  readonly feed: ReplicationFeed;
}

/**
 * The part of a `LeaseStore` that only routes a port method to its concept's collaborator, written once
 * for both backends. A backend extends it with its own lifecycle (ping, close, KEK rotation) and audit
 * trail, and sets `parts` in its constructor.
 */
export abstract class RoutedStore {
  protected abstract readonly parts: StoreCollaborators;

  // Licenses -------------------------------------------------------------------------------------

  installLicense(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    return this.parts.licenses.install(license, now, audit);
  }

  getLicense(id: string): Promise<InstalledLicense | undefined> {
    return this.parts.licenses.get(id);
  }

  listLicenses(): Promise<InstalledLicense[]> {
    return this.parts.licenses.list();
  }

  revokeLicense(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    return this.parts.licenses.revoke(id, now, audit);
  }

  // Seats ----------------------------------------------------------------------------------------

  acquireSeat(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    return this.parts.checkout.acquire(input);
  }

  renewLease(input: LeaseRef): Promise<Lease> {
    return this.parts.leases.renew(input);
  }

  renewLeases(inputs: readonly LeaseRef[]): Promise<RenewOutcome[]> {
    return this.parts.leases.renewMany(inputs);
  }

  releaseSeat(input: LeaseRef): Promise<Lease> {
    return this.parts.leases.release(input);
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    return this.parts.leases.forceRelease(input);
  }

  getLease(id: string): Promise<Lease | undefined> {
    return this.parts.leases.get(id);
  }

  listLeases(query: LeaseQuery): Promise<Lease[]> {
    return this.parts.leases.list(query);
  }

  seatUsage(now: number): Promise<SeatUsage[]> {
    return this.parts.leases.seatUsage(now);
  }

  expireLeases(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    return this.parts.leases.expire(now, limit, audit);
  }

  purgeEndedLeases(before: number): Promise<number> {
    return this.parts.leases.purge(before);
  }

  // Seat blocks (facade/seat-blocks.ts: the same code over each backend's lease operations) -------

  #blocks: SeatBlocks | undefined;

  get #seatBlocks(): SeatBlocks {
    this.#blocks ??= new SeatBlocks(this.parts);
    return this.#blocks;
  }

  holdSeatBlock(input: SeatBlockInput): Promise<SeatBlock> {
    return this.#seatBlocks.hold(input);
  }

  releaseSeatBlock(input: SeatBlockRef): Promise<SeatBlock> {
    return this.#seatBlocks.release(input);
  }

  listSeatBlocks(now: number): Promise<SeatBlock[]> {
    return this.#seatBlocks.list(now);
  }

  // Signing keys ---------------------------------------------------------------------------------

  ensureSigningKey(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    return this.parts.signingKeys.ensure(candidate);
  }

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.parts.signingKeys.list();
  }

  ensureClusterIdentity(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    return this.parts.signingKeys.ensureIdentity(candidate);
  }

  // Tokens ---------------------------------------------------------------------------------------

  createToken(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.parts.tokens.create(record, audit);
  }

  replaceNamedToken(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    return this.parts.tokens.replaceNamed(record, audit);
  }

  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    return this.parts.tokens.findByHash(hash);
  }

  listTokens(): Promise<ApiTokenRecord[]> {
    return this.parts.tokens.list();
  }

  revokeToken(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.parts.tokens.revoke(id, now, audit);
  }

  // Change feed ----------------------------------------------------------------------------------

  changesSince(query: ChangeQuery): Promise<ChangePage> {
    return this.parts.feed.changesSince(query);
  }

  replicationSnapshot(): Promise<ReplicationSnapshot> {
    return this.parts.feed.replicationSnapshot();
  }
}
