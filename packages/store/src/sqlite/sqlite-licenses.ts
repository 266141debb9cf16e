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
import type { LicenseIntegrity } from '../integrity/license-integrity.js';
import type { InstallLicenseResult } from '../port/lease-store.js';
import { type EntitlementRow, type LicenseRow, licenseFromRow } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';

/**
 * Licenses in SQLite: install, upgrade and revoke, each bumping the license revision, and the licenses as
 * their signatures say (LicenseIntegrity) cached until that revision moves.
 */
export class SqliteLicenses {
  #cache: { revision: number; licenses: InstalledLicense[] } | undefined;
  /** The license revision whose files were last verified (`ready`). */
  #verified = -1;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly integrity: LicenseIntegrity,
  ) {}

  /** One license (inside a read or write of the caller's). */
  one(id: string): InstalledLicense | undefined {
    return this.all().find((license) => license.id === id);
  }

  /**
   * Runs a write that decides on licenses (a checkout, a renewal) whose files are verified. Rather than
   * one more read of the license revision before every such write (`ready()`: a read outside any
   * transaction, ~4% of an embedded node's CPU under load, bench/README.md), the write checks the revision
   * itself, inside its transaction (`verifiedAll`), and only when the licenses changed since they were
   * last verified does it roll back, verify them, and run once more.
   */
  async deciding<T>(write: () => Promise<T>): Promise<T> {
    if (this.#verified >= 0) {
      try {
        return await write();
      } catch (err) {
        if (!(err instanceof UnverifiedLicenses)) throw err;
      }
    }
    await this.ready();
    try {
      return await write();
    } catch (err) {
      if (err instanceof UnverifiedLicenses) throw changedWhileVerifying();
      throw err;
    }
  }

  /** Inside a `deciding` write: all licenses, once their files at this revision have been verified. */
  verifiedAll(): InstalledLicense[] {
    const revision = this.#revision();
    if (revision !== this.#verified) throw new UnverifiedLicenses();
    return this.#allAt(revision);
  }

  /** Inside a `deciding` write: one license, verified as in `verifiedAll`. */
  verifiedOne(id: string): InstalledLicense | undefined {
    return this.verifiedAll().find((license) => license.id === id);
  }

  /**
   * All licenses as served, cached until the store's license revision moves. Every checkout needs them and
   * they change rarely; reading one counter is far cheaper than reading every license and entitlement. The
   * counter lives in the database, so another process writing the same file invalidates this cache too.
   * Run `ready()` before the transaction: the files must be verified before a synchronous decision.
   */
  all(): InstalledLicense[] {
    return this.#allAt(this.#revision());
  }

  #allAt(revision: number): InstalledLicense[] {
    if (this.#cache?.revision !== revision) {
      const served = this.#stored().map((stored) => this.integrity.served(stored));
      // Another process installed a license between `ready()` and this transaction.
      if (served.some((license) => license === undefined)) throw changedWhileVerifying();
      this.#cache = { revision, licenses: served as InstalledLicense[] };
    }
    return this.#cache.licenses;
  }

  /**
   * Verifies the stored license files once per license revision, before any transaction that decides on
   * licenses, and reports records that do not match their signatures (docs/security.md). One counter read
   * when nothing changed.
   */
  async ready(): Promise<void> {
    const { conn } = this.ctx;
    const revision = await conn.readForDecision(() => this.#revision());
    if (revision === this.#verified) return;
    await this.integrity.verify(await conn.readForDecision(() => this.#stored()));
    const served = await conn.readForDecision(() => ({ revision: this.#revision(), licenses: this.all() }));
    this.#verified = served.revision;
    await this.integrity.report(served.licenses);
  }

  #revision(): number {
    return (this.ctx.sql.licenseRevision.get() as { value: number }).value;
  }

  /** The records as stored: columns as they are in the file, secrets decrypted. */
  #stored(): InstalledLicense[] {
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

  async install(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    await this.integrity.admit(license);
    await this.ready();
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

  async get(id: string): Promise<InstalledLicense | undefined> {
    await this.ready();
    return this.ctx.conn.read(() => this.one(id));
  }

  async list(): Promise<InstalledLicense[]> {
    await this.ready();
    return this.ctx.conn.read(() => this.all());
  }

  async revoke(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    await this.ready();
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

/** A `deciding` write met licenses changed since their last verification (rolled back; never escapes). */
class UnverifiedLicenses extends Error {}

function changedWhileVerifying(): LeaseholdError {
  return new LeaseholdError(
    'STORE_UNAVAILABLE',
    'the installed licenses changed while this node verified them; try again',
  );
}
