import {
  type AuditContext,
  type InstalledLicense,
  installOutcome,
  LeaseholdError,
  type License,
  licenseInstalledEvent,
  licenseRevokedEvent,
} from '@leasehold/domain';
import type { LicenseIntegrity } from '../integrity/license-integrity.js';
import type { InstallLicenseResult } from '../port/lease-store.js';
import type { EtcdContext } from './etcd-context.js';
import { decodeLicense, encodeLicense } from './records.js';

export interface LicenseSnapshot {
  /** Mod revision of the license-rev key (0 when no license was ever installed). */
  readonly rev: number;
  readonly licenses: InstalledLicense[];
}

/**
 * Licenses in etcd: install, upgrade and revoke, each bumping the license-rev key, and the licenses as
 * their signatures say (LicenseIntegrity) cached by that key's mod revision (every checkout needs them;
 * they change rarely).
 */
export class EtcdLicenses {
  #cache: LicenseSnapshot = { rev: -1, licenses: [] };
  /** Loads in flight, by the license revision their callers read (see `at`). */
  readonly #loads = new Map<number, Promise<LicenseSnapshot>>();

  constructor(
    private readonly ctx: EtcdContext,
    private readonly integrity: LicenseIntegrity,
  ) {}

  /** Stored records as served: verified against their signatures, refused where they disagree. */
  async #served(stored: readonly InstalledLicense[]): Promise<InstalledLicense[]> {
    await this.integrity.verify(stored);
    const served = stored.map((license) => {
      const verified = this.integrity.served(license);
      if (!verified) throw new Error('a license file verified just now has no verdict');
      return verified;
    });
    await this.integrity.report(served);
    return served;
  }

  /** The last snapshot read, possibly stale (rev -1 before the first read); see EtcdCheckout's fast path. */
  get cached(): LicenseSnapshot {
    return this.#cache;
  }

  /**
   * Licenses as of `rev` (the license-rev key's mod revision just read), reloaded only when it moved.
   * Callers that read the same new revision share one load: an install makes every checkout in flight on
   * the node miss at once (bench:ha installs a license before each run: 16-66 requests per node), and each
   * read every license record (a prefix read, never batched), decrypted and hashed them. The shared load
   * starts after one of them read `rev`, so it finds `rev` or a newer one; a newer one makes the caller's
   * compare fail and it reads again, as when it loads alone.
   */
  at(rev: number): Promise<LicenseSnapshot> {
    if (this.#cache.rev === rev) return Promise.resolve(this.#cache);
    let load = this.#loads.get(rev);
    if (!load) {
      load = this.#load().finally(() => this.#loads.delete(rev));
      this.#loads.set(rev, load);
    }
    return load;
  }

  async #load(): Promise<LicenseSnapshot> {
    const { keys } = this.ctx;
    const { results } = await this.ctx.gateway.read([
      { key: keys.licenseRev() },
      { prefix: keys.licenses() },
    ]);
    const current = results[0]?.[0]?.modRevision ?? 0;
    const stored = (results[1] ?? []).map((kv) => decodeLicense(kv, this.ctx.sealer()));
    const snapshot = { rev: current, licenses: await this.#served(stored) };
    // Loads of different revisions may finish out of order: the cache only moves forward.
    if (current >= this.#cache.rev) this.#cache = snapshot;
    return snapshot;
  }

  async install(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    const { ctx } = this;
    await this.integrity.admit(license);
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ key: ctx.keys.license(license.id) }]);
      const kv = results[0]?.[0];
      const existing = kv && (await this.#served([decodeLicense(kv, ctx.sealer())]))[0];
      const outcome = installOutcome(existing, license);
      if (outcome === 'unchanged' && existing) return { outcome, license: existing };
      if (outcome === 'unchanged') throw new Error('an unchanged license must exist already');
      const installed: InstalledLicense = { ...license, installedAt: now, revokedAt: undefined };
      await ctx.commit(
        [{ key: ctx.keys.license(license.id), target: 'Mod', equals: kv?.modRevision ?? 0 }],
        [
          { put: ctx.keys.license(license.id), value: encodeLicense(installed, ctx.sealer()) },
          { put: ctx.keys.licenseRev(), value: license.id },
          ctx.pending(licenseInstalledEvent(ctx.actor(audit), outcome, license, now)),
        ],
      );
      return { outcome, license: installed };
    });
  }

  async get(id: string): Promise<InstalledLicense | undefined> {
    return (await this.current()).find((l) => l.id === id);
  }

  async list(): Promise<InstalledLicense[]> {
    return [...(await this.current())].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every license as of now: one small read of license-rev, and the decrypted snapshot when it moved. */
  current(): Promise<readonly InstalledLicense[]> {
    return this.ctx.optimistic.run(async () => {
      const { results } = await this.ctx.gateway.read([{ key: this.ctx.keys.licenseRev() }]);
      return (await this.at(results[0]?.[0]?.modRevision ?? 0)).licenses;
    });
  }

  revoke(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ key: ctx.keys.license(id) }]);
      const kv = results[0]?.[0];
      if (!kv) throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${id}" is installed`);
      const stored = decodeLicense(kv, ctx.sealer());
      const [existing] = await this.#served([stored]);
      if (!existing) throw new Error('a license read just now has no served form');
      if (existing.revokedAt !== undefined) return existing;
      const revoked = { ...existing, revokedAt: now };
      await ctx.commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [
          // The record as it was stored, revoked: revoking does not launder a tampered record.
          { put: kv.key, value: encodeLicense({ ...stored, revokedAt: now }, ctx.sealer()) },
          { put: ctx.keys.licenseRev(), value: id },
          ctx.pending(licenseRevokedEvent(ctx.actor(audit), id, now)),
        ],
      );
      return revoked;
    });
  }
}
