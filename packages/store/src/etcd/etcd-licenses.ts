import {
  type AuditContext,
  type InstalledLicense,
  installOutcome,
  LeaseholdError,
  type License,
  licenseInstalledEvent,
  licenseRevokedEvent,
} from '@leasehold/domain';
import type { InstallLicenseResult } from '../port/lease-store.js';
import type { EtcdContext } from './etcd-context.js';
import { decodeLicense, encodeLicense } from './records.js';

export interface LicenseSnapshot {
  /** Mod revision of the license-rev key (0 when no license was ever installed). */
  readonly rev: number;
  readonly licenses: InstalledLicense[];
}

/**
 * Licenses in etcd: install, upgrade and revoke, each bumping the license-rev key, and the decrypted
 * licenses cached by that key's mod revision (every checkout needs them; they change rarely).
 */
export class EtcdLicenses {
  #cache: LicenseSnapshot = { rev: -1, licenses: [] };

  constructor(private readonly ctx: EtcdContext) {}

  /** The last snapshot read, possibly stale (rev -1 before the first read); see EtcdCheckout's fast path. */
  get cached(): LicenseSnapshot {
    return this.#cache;
  }

  /** Licenses as of `rev` (the license-rev key's mod revision just read), reloaded only when it moved. */
  async at(rev: number): Promise<LicenseSnapshot> {
    if (this.#cache.rev !== rev) {
      const { keys } = this.ctx;
      const { results } = await this.ctx.gateway.read([
        { key: keys.licenseRev() },
        { prefix: keys.licenses() },
      ]);
      const current = results[0]?.[0]?.modRevision ?? 0;
      this.#cache = {
        rev: current,
        licenses: (results[1] ?? []).map((kv) => decodeLicense(kv, this.ctx.sealer())),
      };
      // A newer revision than the one the caller read makes its compare fail, and it re-reads: correct.
    }
    return this.#cache;
  }

  install(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ key: ctx.keys.license(license.id) }]);
      const kv = results[0]?.[0];
      const existing = kv && decodeLicense(kv, ctx.sealer());
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
      const existing = decodeLicense(kv, ctx.sealer());
      if (existing.revokedAt !== undefined) return existing;
      const revoked = { ...existing, revokedAt: now };
      await ctx.commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [
          { put: kv.key, value: encodeLicense(revoked, ctx.sealer()) },
          { put: ctx.keys.licenseRev(), value: id },
          ctx.pending(licenseRevokedEvent(ctx.actor(audit), id, now)),
        ],
      );
      return revoked;
    });
  }
}
