import type { Lease } from '@leasehold/domain';

/** A lease record as this node last wrote it (or read it): its key, mod revision and decoded lease. */
export interface CachedLease {
  readonly key: string;
  /** The record's mod revision when this node saw it: a compare on it holds only while nothing changed. */
  readonly modRevision: number;
  readonly lease: Lease;
}

/** Hits, misses and stale hits (a compare that failed), for tests and the benchmark notes. */
export interface LeaseCacheStats {
  hits: number;
  misses: number;
  stale: number;
  /** Writes not kept because the cache was full of leases still live (see the class comment). */
  refused: number;
}

/** What one entry holds: the key is derived from the lease id, which is the map's key. */
interface Entry {
  readonly modRevision: number;
  readonly lease: Lease;
}

/**
 * The lease records this node granted or renewed most recently, so that a renewal can go straight to its
 * compare-guarded write instead of reading the record first (one etcd round trip instead of three; see
 * EtcdLeases.renew and etcd-renew-many.ts). A hint, never a source of truth: the write compares the
 * record's mod revision, the slot key's value and the license revision, so an entry that is stale (the
 * lease renewed on another node, released, expired, taken over, purged) only fails its compare, and the
 * renewal then reads as without a cache.
 *
 * Bounded: at most `maxEntries` leases, ~0.5 KB of heap each (measured: 20,000 leases as the scale bench
 * grants them, decoded from their records and renewed, 9.6 MB with the map and its id strings), so the
 * default (40,000, etcd-store.ts) costs at most ~20 MB whatever the number of live leases. When full, the least recently written entry makes room only
 * once its lease's seat reservation has run out (such a lease cannot be renewed: it ended, or it is
 * renewed on another node now); while it is still live the new write is not kept (`refused`). Plain LRU
 * eviction got no hit at all when a node renews more leases than it holds: renewals come round in the
 * order they were written, so each entry was evicted just before its turn (the 100,000-lease scale run,
 * ~33,000 leases per node against 10,000 entries). Kept this way, the entries that are in the cache stay
 * in it (a renewal takes its entry out and puts the new record back) and a node renewing W leases with
 * room for C still skips C/W of its reads, while entries of leases gone elsewhere age out within one
 * lease TTL. (A Map keeps insertion order; each write re-inserts, so the first entry is the oldest.)
 */
export class LeaseRecordCache {
  readonly stats: LeaseCacheStats = { hits: 0, misses: 0, stale: 0, refused: 0 };
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #keyOf: (id: string) => string;

  /**
   * @param maxEntries 0 turns the cache off (every renewal reads first).
   * @param keyOf the etcd key of a lease's record (Keyspace.lease).
   */
  constructor(maxEntries: number, keyOf: (id: string) => string) {
    this.#maxEntries = Math.max(0, Math.floor(maxEntries));
    this.#keyOf = keyOf;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry of a lease, taken out: a renewal that uses it puts back the record it writes. */
  take(id: string): CachedLease | undefined {
    const entry = this.#entries.get(id);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    this.#entries.delete(id);
    this.stats.hits++;
    return { key: this.#keyOf(id), modRevision: entry.modRevision, lease: entry.lease };
  }

  /**
   * Remembers the record of `lease` as written at `modRevision` (the newest write wins the slot). The
   * write's time is the lease's `renewedAt` (a grant's too): entries whose reservation ended before it are
   * the ones that may make room.
   */
  remember(modRevision: number, lease: Lease): void {
    if (this.#maxEntries === 0) return;
    const entries = this.#entries;
    if (!entries.delete(lease.id) && entries.size >= this.#maxEntries) {
      const oldest = entries.entries().next();
      if (oldest.done || oldest.value[1].lease.reservedUntil > lease.renewedAt) {
        this.stats.refused++;
        return;
      }
      entries.delete(oldest.value[0]);
    }
    entries.set(lease.id, { modRevision, lease });
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}
