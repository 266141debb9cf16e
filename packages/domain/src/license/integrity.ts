import { LeaseholdError } from '../errors/leasehold-error.js';
import type { InstalledLicense, License, LicenseRefusal } from './license.js';

/*
 * Entitlements come from the signature, not from the store's columns (issue 11). A store keeps a license
 * as plain fields (seat counts, dates, policy) next to the file it was installed from; anyone who can write
 * the data file or the etcd values can change the fields. So whenever a store loads a license, it verifies
 * the file again and serves the signed claims; stored fields that disagree refuse the license instead.
 */

/**
 * The stored fields of `stored` that disagree with the signed license `signed`: `id`, `version`, `issuer`,
 * `customer`, `product`, `issuedAt`, `notBefore`, `expiresAt`, `signedBy`, `lease.ttlMs`, `lease.graceMs`,
 * `lease.policy`, `seats:<feature>` (a count differs, or the feature is on one side only). Empty when the
 * record is what the vendor signed.
 */
export function storedMismatches(stored: License, signed: License): string[] {
  const fields: string[] = [];
  const scalar: ReadonlyArray<[string, unknown, unknown]> = [
    ['id', stored.id, signed.id],
    ['version', stored.version, signed.version],
    ['issuer', stored.issuer, signed.issuer],
    ['customer', stored.customer, signed.customer],
    ['product', stored.product, signed.product],
    ['issuedAt', stored.issuedAt, signed.issuedAt],
    ['notBefore', stored.notBefore, signed.notBefore],
    ['expiresAt', stored.expiresAt, signed.expiresAt],
    ['signedBy', stored.signedBy, signed.signedBy],
    ['lease.ttlMs', stored.lease?.ttlMs, signed.lease.ttlMs],
    ['lease.graceMs', stored.lease?.graceMs, signed.lease.graceMs],
    ['lease.policy', stored.lease?.policy, signed.lease.policy],
  ];
  for (const [name, a, b] of scalar) if (a !== b) fields.push(name);
  const storedSeats = new Map((stored.entitlements ?? []).map((e) => [e.feature, e.seats]));
  const signedSeats = new Map(signed.entitlements.map((e) => [e.feature, e.seats]));
  const features = [...new Set([...storedSeats.keys(), ...signedSeats.keys()])].sort();
  for (const feature of features) {
    if (storedSeats.get(feature) !== signedSeats.get(feature)) fields.push(`seats:${feature}`);
  }
  // A duplicated feature row counts as a change too (two rows for one feature would double-count it).
  if ((stored.entitlements ?? []).length !== storedSeats.size) fields.push('entitlements');
  return fields;
}

/**
 * The license a store serves for a stored record whose file verified as `signed`: every decision field
 * from the signature, the store's own facts (installed, revoked) from the record, and a refusal when the
 * stored fields disagree with the signature.
 */
export function servedLicense(stored: InstalledLicense, signed: License): InstalledLicense {
  const served: InstalledLicense = {
    ...signed,
    raw: stored.raw,
    installedAt: stored.installedAt,
    revokedAt: stored.revokedAt,
  };
  const fields = storedMismatches(stored, signed);
  if (fields.length === 0) return served;
  return {
    ...served,
    refusal: {
      code: 'LICENSE_TAMPERED',
      fields,
      detail: `the stored license "${stored.id}" does not match its vendor signature (${fields.join(', ')}); it grants nothing until the license file is installed again`,
    },
  };
}

/** The record of a stored license whose file does not verify at all: refused, with the reason. */
export function unverifiedLicense(stored: InstalledLicense, err: LeaseholdError): InstalledLicense {
  // A key removed from the configuration is the operator's choice, not tampering: say which it is.
  const refusal: LicenseRefusal =
    err.code === 'LICENSE_KID_UNKNOWN'
      ? {
          code: 'LICENSE_KID_UNKNOWN',
          fields: ['signedBy'],
          detail: `the stored license "${stored.id}" was signed by a vendor key this node no longer trusts: ${err.message}`,
        }
      : {
          code: 'LICENSE_TAMPERED',
          fields: ['signature'],
          detail: `the stored license file of "${stored.id}" does not verify (${err.code}: ${err.message}); it grants nothing until installed again`,
        };
  return { ...stored, refusal };
}

/** Throws unless `claimed` is exactly what its own file says (a store's check of an install's input). */
export function assertMatchesSignature(claimed: License, signed: License): void {
  const fields = storedMismatches(claimed, signed);
  if (fields.length > 0) {
    throw new LeaseholdError(
      'LICENSE_TAMPERED',
      `the license "${claimed.id}" to install does not match its own signed file (${fields.join(', ')})`,
      { fields },
    );
  }
}
