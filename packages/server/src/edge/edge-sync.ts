import {
  type AuditContext,
  assertLicenseFitsCluster,
  type Clock,
  LeaseholdError,
  type LicenseVerificationKeys,
  licenseBindingOf,
  signedLicenseOf,
  verifyLicense,
} from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { EdgeSource } from './edge-source.js';

/** Name of the token records an edge copied from its primary (so it knows which to revoke when they go). */
export const UPSTREAM_TOKEN_NAME = 'from-primary';

export interface EdgeSyncOptions {
  readonly source: EdgeSource;
  readonly store: LeaseStore;
  readonly licenseIds: readonly string[];
  /** The edge's own trusted vendor keys: the license file is verified here, not taken on the primary's word. */
  readonly licenseKeys: LicenseVerificationKeys;
  /** The edge's own cluster id (its identity key): a license bound to other clusters is not installed. */
  readonly clusterId: string;
  readonly clock: Clock;
  readonly audit: AuditContext;
}

/**
 * Brings an edge's licenses and client tokens in step with its primary (docs/replication.md). The license
 * is installed from its vendor-signed file through the same verification as `POST /v1/licenses`, so an
 * edge never counts seats of a file its own vendor keys do not verify. Tokens are copied as hashes; a token
 * the primary revoked or no longer lists is revoked here.
 */
export class EdgeSync {
  constructor(private readonly options: EdgeSyncOptions) {}

  async syncOnce(): Promise<void> {
    for (const licenseId of this.options.licenseIds) {
      await this.#license(licenseId);
      await this.#tokens(licenseId);
    }
  }

  async #license(licenseId: string): Promise<void> {
    const { source, store, clock, audit } = this.options;
    const file = await source.licenseFile(licenseId);
    const local = await store.getLicense(licenseId);
    if (local && local.version >= file.version && !(file.revoked && local.revokedAt === undefined)) return;
    if (!local || local.version < file.version) {
      const now = clock.now();
      const verified = await verifyLicense(file.license, this.options.licenseKeys, now);
      if (verified.id !== licenseId) {
        throw new LeaseholdError(
          'LICENSE_MALFORMED',
          `the primary's file for "${licenseId}" is license "${verified.id}"`,
        );
      }
      // As at POST /v1/licenses: a license bound to clusters installs only on one of them, and the edge
      // is its own cluster (its grants' chain is certified by its own identity key).
      const binding = licenseBindingOf(await signedLicenseOf(verified.raw, this.options.licenseKeys));
      assertLicenseFitsCluster(binding, this.options.clusterId);
      await store.installLicense(verified, now, audit);
    }
    if (file.revoked) await store.revokeLicense(licenseId, clock.now(), audit);
  }

  async #tokens(licenseId: string): Promise<void> {
    const { source, store, audit } = this.options;
    const upstream = await source.clientTokens(licenseId);
    const local = new Map((await store.listTokens()).map((t) => [t.id, t]));
    const listed = new Set<string>();
    for (const token of upstream) {
      listed.add(token.id);
      const mine = local.get(token.id);
      if (!mine) {
        await store.createToken(
          {
            id: token.id,
            hash: token.hash,
            scope: 'client',
            licenseId,
            name: UPSTREAM_TOKEN_NAME,
            createdAt: token.createdAt,
            revokedAt: token.revokedAt,
          },
          audit,
        );
      } else if (token.revokedAt !== undefined && mine.revokedAt === undefined) {
        await store.revokeToken(token.id, token.revokedAt, audit);
      }
    }
    for (const mine of local.values()) {
      const gone = mine.name === UPSTREAM_TOKEN_NAME && mine.licenseId === licenseId && !listed.has(mine.id);
      if (gone && mine.revokedAt === undefined)
        await store.revokeToken(mine.id, this.options.clock.now(), audit);
    }
  }
}
