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
}

/**
 * The lease records this node granted or renewed most recently, so that a renewal can go straight to its
 * compare-guarded write instead of reading the record first (one etcd round trip instead of two; see
 * EtcdLeases.renew). A hint, never a source of truth: the write compares the record's mod revision, the
 * slot key's value and the license revision, so an entry that is stale (the lease renewed on another
 * node, released, expired, taken over, purged) only fails its compare, and the renewal then reads as
 * without a cache. Bounded: at most `maxEntries` leases, the least recently written evicted first
 * (a Map keeps insertion order; each write re-inserts). An entry is ~1.2 KB of heap (measured: 20,000
 * entries of typical leases, 24 MB), so the default bound (10,000) costs at most ~12 MB per node whatever the number of live leases (the 100,000-lease target keeps
 * a node under 200 MB).
 */
export class LeaseRecordCache {
  readonly stats: LeaseCacheStats = { hits: 0, misses: 0, stale: 0 };
  readonly #entries = new Map<string, CachedLease>();
  readonly #maxEntries: number;

  /** @param maxEntries 0 turns the cache off (every renewal reads first). */
  constructor(maxEntries: number) {
    this.#maxEntries = Math.max(0, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry of a lease, taken out: a renewal that uses it puts back the record it writes. */
  take(id: string): CachedLease | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.stats.hits++;
    } else {
      this.stats.misses++;
    }
    return entry;
  }

  /** Remembers the record of `lease` as written at `modRevision` (the newest write wins the slot). */
  remember(key: string, modRevision: number, lease: Lease): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(lease.id);
    this.#entries.set(lease.id, { key, modRevision, lease });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}
