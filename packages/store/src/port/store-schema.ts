import { LeaseholdError } from '@leasehold/domain';

/**
 * The refusal every backend gives for a store written by a newer release: it names both versions, so an
 * operator sees at once which side to upgrade. A node never works on (or downgrades) such a store —
 * what a newer release wrote may mean something this code would misread (docs/deploy.md, "Rolling
 * upgrades").
 */
export function storeSchemaTooNew(
  backend: 'sqlite' | 'etcd',
  storeSchema: number,
  nodeSchema: number,
  writtenBy?: string,
): LeaseholdError {
  const by = writtenBy ? ` (migrated by node ${writtenBy})` : '';
  return new LeaseholdError(
    'STORE_SCHEMA_TOO_NEW',
    `the ${backend} store has schema version ${storeSchema}${by}, newer than version ${nodeSchema}, the ` +
      'newest this node understands: run the newer Leasehold release on this node too (a store is never downgraded)',
    { backend, storeSchema, nodeSchema },
  );
}
