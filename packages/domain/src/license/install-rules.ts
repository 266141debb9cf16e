import { LeaseholdError } from '../errors/leasehold-error.js';
import type { InstalledLicense, License } from './license.js';

export type InstallOutcome = 'installed' | 'upgraded' | 'unchanged';

/**
 * Decides what installing `incoming` over `existing` does. A license id only moves forward in version:
 * the same file again is a no-op (retries are safe), a higher version replaces it (even a revoked one —
 * that is how a vendor re-issues), and anything else is a replay.
 */
export function installOutcome(existing: InstalledLicense | undefined, incoming: License): InstallOutcome {
  if (!existing) return 'installed';
  if (incoming.version > existing.version) return 'upgraded';
  if (incoming.version === existing.version && incoming.raw === existing.raw) return 'unchanged';
  throw new LeaseholdError(
    'LICENSE_REPLAYED',
    `license "${incoming.id}" version ${incoming.version} is not newer than installed version ${existing.version}`,
    { installedVersion: existing.version },
  );
}
