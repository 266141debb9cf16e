import type { LeaseStore } from '@leasehold/store';
import { replicaReadOnly } from '../http/routes/replication.js';

/**
 * Every port method that writes, or that serves a feed of this store's own writes. A replica's data is
 * written only by its follower (through the store itself, not this view); everything the HTTP layer and
 * the background jobs see is this read-only view.
 */
const WRITES = new Set<keyof LeaseStore>([
  'rotateKek',
  'installLicense',
  'revokeLicense',
  'acquireSeat',
  'renewLease',
  'renewLeases',
  'releaseSeat',
  'forceRelease',
  'expireLeases',
  'purgeEndedLeases',
  'holdSeatBlock',
  'releaseSeatBlock',
  'ensureSigningKey',
  'createToken',
  'replaceNamedToken',
  'revokeToken',
  'recordAudit',
  'sealAudit',
  'saveAuditCheckpoint',
  'pruneAudit',
  // Promotion goes through the node's own store (promotion.ts); a replica is not a primary to fence.
  'promoteEpoch',
  'fenceEpoch',
  // A replica does not re-serve the feed (no chained replicas yet): its own change table is not written.
  'changesSince',
]);

/**
 * The store as a replica node serves it: reads pass, writes answer REPLICA_READ_ONLY naming the primary.
 * Once `writable()` says so (the replica was promoted), everything passes.
 */
export function readOnlyStore(
  store: LeaseStore,
  primary: string,
  writable: () => boolean = () => false,
): LeaseStore {
  const refuse = () => Promise.reject(replicaReadOnly(primary));
  // One bound method per name, so wrappers keyed by method (metered-store.ts) are made once, not per call.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      if (WRITES.has(property as keyof LeaseStore) && !writable()) return refuse;
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = value.bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}
