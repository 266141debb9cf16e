import { createHash } from 'node:crypto';
import {
  type AuditEvent,
  assertMatchesSignature,
  type InstalledLicense,
  LeaseholdError,
  type License,
  type LicenseVerificationKeys,
  licenseTamperedEvent,
  servedLicense,
  unverifiedLicense,
  verifyStoredLicense,
} from '@leasehold/domain';

/** Verdicts kept, by license file hash: far more than any store holds licenses (versions included). */
const MAX_VERDICTS = 4096;

export interface LicenseIntegrityOptions {
  /**
   * The trust root: the vendor keys (and JWE decryption keys) from the node's configuration, never from the
   * store, so that writing the store cannot add a key that signs more seats (docs/security.md).
   */
  readonly keys: LicenseVerificationKeys;
  /** Records an audit event outside any transaction (the store's `recordAudit`). */
  readonly record: (event: AuditEvent) => Promise<void>;
  /** Wall clock for the audit record's time (injected, STYLE.md rule 4). */
  readonly now: () => number;
  /** The node named by the audit record. */
  readonly node: string;
}

/**
 * Both backends serve a license only as its vendor signature says (issue 11): a loaded record's file is
 * verified again against the configured vendor keys, and the decision fields (seats, features, dates,
 * lease policy) are the signed claims. A record whose stored fields disagree, or whose file no longer
 * verifies, is served with a refusal (LICENSE_TAMPERED, LICENSE_KID_UNKNOWN): it grants and renews nothing,
 * and one `license.tampered` audit event per node and record says so.
 *
 * Verification is asynchronous (jose) while SQLite decides inside synchronous transactions, so it is split:
 * `verify` checks the files of a set of records ahead (cached by file hash, so a request pays one hash per
 * license at most, and only when the licenses changed), and `served` then decides synchronously.
 */
export class LicenseIntegrity {
  readonly #verdicts = new Map<string, License | LeaseholdError>();
  readonly #reported = new Set<string>();

  constructor(private readonly options: LicenseIntegrityOptions) {}

  /** Verifies the file of every record not verified before. Never throws for a bad file: it is a verdict. */
  async verify(stored: readonly InstalledLicense[]): Promise<void> {
    for (const license of stored) {
      const hash = fileHash(license.raw);
      if (this.#verdicts.has(hash)) continue;
      this.#remember(hash, await this.#check(license.raw));
    }
  }

  /**
   * The license as served for a stored record: signed claims, or a refusal. Undefined when its file was not
   * verified yet (another writer changed the licenses since `verify`); the caller then verifies and retries.
   */
  served(stored: InstalledLicense): InstalledLicense | undefined {
    const verdict = this.#verdicts.get(fileHash(stored.raw));
    if (verdict === undefined) return undefined;
    return verdict instanceof LeaseholdError
      ? unverifiedLicense(stored, verdict)
      : servedLicense(stored, verdict);
  }

  /**
   * What a store writes for an install: the license exactly as its own file says. The route verified it;
   * the store checks again (the caller could hand it any record) and refuses fields the file does not sign.
   */
  async admit(license: License): Promise<License> {
    await this.verify([{ ...license, installedAt: 0, revokedAt: undefined }]);
    const verdict = this.#verdicts.get(fileHash(license.raw));
    if (verdict instanceof LeaseholdError) throw verdict;
    if (verdict === undefined) throw new Error('a verified license file has no verdict');
    assertMatchesSignature(license, verdict);
    return license;
  }

  /**
   * Records one `license.tampered` audit event per refused record (per node and stored content), never
   * failing the caller: the refusal itself is already in force, the event only reports it.
   */
  async report(served: readonly InstalledLicense[]): Promise<void> {
    for (const license of served) {
      const { refusal } = license;
      if (!refusal) continue;
      const key = `${license.id}\u0000${fileHash(license.raw)}\u0000${refusal.fields.join(',')}`;
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      const context = { actor: 'system:integrity', node: this.options.node };
      await this.options
        .record(licenseTamperedEvent(context, license.id, refusal, this.options.now()))
        .catch(() => this.#reported.delete(key)); // reported at the next load instead
    }
  }

  async #check(raw: string): Promise<License | LeaseholdError> {
    try {
      return await verifyStoredLicense(raw, this.options.keys);
    } catch (err) {
      if (err instanceof LeaseholdError) return err;
      throw err;
    }
  }

  #remember(hash: string, verdict: License | LeaseholdError): void {
    if (this.#verdicts.size >= MAX_VERDICTS) {
      const oldest = this.#verdicts.keys().next();
      if (!oldest.done) this.#verdicts.delete(oldest.value);
    }
    this.#verdicts.set(hash, verdict);
  }
}

const fileHash = (raw: string) => createHash('sha256').update(raw).digest('base64url');
