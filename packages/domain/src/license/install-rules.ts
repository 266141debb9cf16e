import { LeaseholdError } from '../errors/leasehold-error.js';
import type { InstalledLicense, License } from './license.js';

export type InstallOutcome = 'installed' | 'upgraded' | 'unchanged';

/**
 * Decides what installing `incoming` over `existing` does. A license id only moves forward in version:
 * the same file again is a no-op (retries are safe), a higher version replaces it (even a revoked one —
 * that is how a vendor re-issues), and anything else is a replay. Every version must be signed by the
 * same vendor key as the installed one.
 */
export function installOutcome(existing: InstalledLicense | undefined, incoming: License): InstallOutcome {
  if (!existing) return 'installed';
  // A license id belongs to the vendor key that signed it first: another trusted key (a second vendor
  // on the same node, or a key that leaked) cannot take it over with a higher version (issue 11).
  if (incoming.signedBy !== existing.signedBy) {
    throw new LeaseholdError(
      'LICENSE_KEY_UNTRUSTED',
      `license "${incoming.id}" was installed signed by vendor key "${existing.signedBy}"; version ${incoming.version} is signed by "${incoming.signedBy}", which may not replace it`,
      { installedSignedBy: existing.signedBy, signedBy: incoming.signedBy },
    );
  }
  if (incoming.version > existing.version) return 'upgraded';
  // A stored record refused for not matching its signature is repaired by installing the file again.
  if (incoming.version === existing.version && existing.refusal) return 'installed';
  if (incoming.version === existing.version && incoming.raw === existing.raw) return 'unchanged';
  throw new LeaseholdError(
    'LICENSE_REPLAYED',
    `license "${incoming.id}" version ${incoming.version} is not newer than installed version ${existing.version}`,
    { installedVersion: existing.version },
  );
}
