import type { Clock } from '@leasehold/domain';
import { LeaseholdError } from '@leasehold/domain';
import type {
  ApiTokenRecord,
  ApplyResult,
  Change,
  ReplicaPosition,
  ReplicaTarget,
  ReplicatedRecord,
  ReplicationSnapshot,
} from '@leasehold/store';
import { ReplicaFollower, type ReplicaStatus } from '../replication/replica-follower.js';
import type { UpstreamFeed } from '../replication/upstream-feed.js';
import type { EdgeSource, UpstreamClientToken, UpstreamLicenseFile } from './edge-source.js';

export interface FeedEdgeSourceOptions {
  readonly upstream: UpstreamFeed;
  readonly clock: Clock;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** The long-poll of each feed request. */
  readonly waitMs?: number;
}

type LicenseValue = Extract<ReplicatedRecord, { kind: 'license' }>['value'];

/**
 * An edge's licenses and client tokens from the primary's change feed (docs/replication.md "Edge sites")
 * instead of two polled reads: the same `ReplicaFollower` as a DR replica, into a target that keeps only
 * what an edge copies — license records and token records — in memory. A revocation reaches the edge
 * with the long-poll's answer, not the next poll; a 410 reloads the snapshot like a replica's.
 *
 * In memory on purpose: the edge's store is its own (its leases, its audit chain) and is written through
 * `EdgeSync`'s verification, exactly as with `HttpEdgeSource`; after a restart the follower starts from
 * the beginning of the primary's retained history (or its snapshot). The feed needs a `replica` or admin
 * upstream token; with a client token the edge uses `HttpEdgeSource`.
 */
export class FeedEdgeSource implements EdgeSource {
  readonly #licenses = new Map<string, LicenseValue>();
  /** By hash (the feed's token id). */
  readonly #tokens = new Map<string, ApiTokenRecord>();
  readonly #follower: ReplicaFollower;
  #position = -1;
  #head = -1;
  #loaded = false;

  constructor(options: FeedEdgeSourceOptions) {
    this.#follower = new ReplicaFollower({
      upstream: options.upstream,
      target: this.#target(),
      clock: options.clock,
      log: options.log,
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
    });
  }

  start(): void {
    this.#follower.start();
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }

  status(): ReplicaStatus {
    return this.#follower.status();
  }

  /** Resolves once the feed has been read up to the head it reported (tests, start-up). */
  caughtUp(): Promise<void> {
    return this.#follower.caughtUp();
  }

  async licenseFile(licenseId: string): Promise<UpstreamLicenseFile> {
    this.#assertLoaded();
    const license = this.#licenses.get(licenseId);
    if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND', `the primary has no license "${licenseId}"`);
    return { license: license.raw, version: license.version, revoked: license.revokedAt !== undefined };
  }

  async clientTokens(licenseId: string): Promise<UpstreamClientToken[]> {
    this.#assertLoaded();
    return [...this.#tokens.values()]
      .filter((t) => t.scope === 'client' && t.licenseId === licenseId)
      .map((t) => ({
        id: t.id,
        hash: t.hash,
        createdAt: t.createdAt,
        ...(t.revokedAt === undefined ? {} : { revokedAt: t.revokedAt }),
      }));
  }

  /** Until the feed was first read to its head, a sync fails (and retries) rather than revoking tokens. */
  #assertLoaded(): void {
    if (!this.#loaded) {
      throw new LeaseholdError('STORE_UNAVAILABLE', "the primary's change feed has not been read yet");
    }
  }

  #target(): ReplicaTarget {
    const apply = (change: Change) => {
      if (change.op === 'put') this.#put(change.record);
      else if (change.kind === 'license') this.#licenses.delete(change.id);
      else if (change.kind === 'token') this.#tokens.delete(change.id);
    };
    return {
      replicaPosition: async (): Promise<ReplicaPosition> => ({
        position: this.#position,
        head: this.#head,
        appliedAt: 0,
      }),
      applyChanges: async (changes, page): Promise<ApplyResult> => {
        let applied = 0;
        let skipped = 0;
        for (const change of changes) {
          if (change.rev <= this.#position) {
            skipped++;
            continue;
          }
          apply(change);
          applied++;
        }
        this.#position = Math.max(this.#position, page.through);
        this.#head = Math.max(this.#head, page.head);
        // Only a feed read up to its head is the primary's whole state: a sync against less would revoke
        // the tokens of later pages, and a revoked copy is never revived.
        if (this.#position >= this.#head) this.#loaded = true;
        return { applied, skipped, position: this.#position };
      },
      replaceState: async (snapshot: ReplicationSnapshot): Promise<ApplyResult> => {
        this.#licenses.clear();
        this.#tokens.clear();
        for (const record of snapshot.records) this.#put(record);
        this.#position = snapshot.revision;
        this.#head = Math.max(this.#head, snapshot.revision);
        this.#loaded = true;
        return { applied: snapshot.records.length, skipped: 0, position: this.#position };
      },
    };
  }

  #put(record: ReplicatedRecord): void {
    if (record.kind === 'license') this.#licenses.set(record.id, record.value);
    else if (record.kind === 'token') this.#tokens.set(record.id, record.value);
  }
}
