import {
  type AuditContext,
  type InstalledLicense,
  installOutcome,
  LeaseholdError,
  type License,
  licenseInstalledEvent,
  licenseRevokedEvent,
} from '@leasehold/domain';
import { openLicense, sealLicense } from '../crypto/sealed-records.js';
import type { InstallLicenseResult } from '../port/lease-store.js';
import { type EntitlementRow, type LicenseRow, licenseFromRow } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';

/**
 * Licenses in SQLite: install, upgrade and revoke, each bumping the license revision, and the decrypted
 * licenses cached until that revision moves.
 */
export class SqliteLicenses {
  #cache: { revision: number; licenses: InstalledLicense[] } | undefined;

  constructor(private readonly ctx: SqliteContext) {}

  /** One license (inside a read or write of the caller's). */
  one(id: string): InstalledLicense | undefined {
    return this.all().find((license) => license.id === id);
  }

  /**
   * All licenses, cached until the store's license revision moves. Every checkout needs them and they
   * change rarely; reading one counter is far cheaper than reading every license and entitlement. The
   * counter lives in the database, so another process writing the same file invalidates this cache too.
   */
  all(): InstalledLicense[] {
    const revision = (this.ctx.sql.licenseRevision.get() as { value: number }).value;
    if (this.#cache?.revision !== revision) {
      this.#cache = { revision, licenses: this.#load() };
    }
    return this.#cache.licenses;
  }

  #load(): InstalledLicense[] {
    const byLicense = new Map<string, EntitlementRow[]>();
    for (const e of this.ctx.sql.allEntitlements.all() as EntitlementRow[]) {
      const list = byLicense.get(e.license_id) ?? [];
      list.push(e);
      byLicense.set(e.license_id, list);
    }
    return (this.ctx.sql.allLicenses.all() as LicenseRow[]).map((row) =>
      openLicense(licenseFromRow(row, byLicense.get(row.id) ?? []), this.ctx.cipher),
    );
  }

  install(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    const { ctx } = this;
    const { sql } = ctx;
    return ctx.conn.write(() => {
      const outcome = installOutcome(this.one(license.id), license);
      if (outcome !== 'unchanged') {
        ctx.conn.nextRevision();
        sql.bumpLicenseRevision.run();
        const sealed = sealLicense(license, ctx.cipher);
        sql.upsertLicense.run({
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
        sql.deleteEntitlements.run(license.id);
        for (const e of license.entitlements) sql.insertEntitlement.run(license.id, e.feature, e.seats);
        ctx.changes.license(license.id);
        ctx.record(licenseInstalledEvent(ctx.actor(audit), outcome, license, now));
      }
      const installed = this.one(license.id);
      if (!installed) throw new Error('license vanished inside its own transaction');
      return { outcome, license: installed };
    });
  }

  get(id: string): Promise<InstalledLicense | undefined> {
    return this.ctx.conn.read(() => this.one(id));
  }

  list(): Promise<InstalledLicense[]> {
    return this.ctx.conn.read(() => this.all());
  }

  revoke(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      const existing = this.one(id);
      if (!existing) throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${id}" is installed`);
      if (existing.revokedAt !== undefined) return existing;
      ctx.conn.nextRevision();
      ctx.sql.bumpLicenseRevision.run();
      ctx.sql.revokeLicense.run(now, id);
      ctx.changes.license(id);
      ctx.record(licenseRevokedEvent(ctx.actor(audit), id, now));
      return { ...existing, revokedAt: now };
    });
  }
}
