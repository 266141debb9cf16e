import { fileURLToPath } from 'node:url';

/**
 * The `leasehold` entry point of this package. Kept for `test/ha/partition-scenario.mjs`, which spawns
 * nodes itself; every other test and bench finds the bin through `@leasehold/devtools`' `leaseholdBin()`.
 */
export const LEASEHOLD_BIN = fileURLToPath(new URL('../../bin/leasehold.js', import.meta.url));
