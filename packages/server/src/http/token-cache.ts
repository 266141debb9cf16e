import type { ApiTokenRecord, LeaseStore } from '@leasehold/store';

/**
 * A short-lived cache of token lookups by hash, so that a cluster node does not read etcd once more for
 * every request. Only live tokens are cached, for `ttlMs`: a revoked token stops working on every node
 * within that time (docs/ha.md). Unknown hashes are not cached, so a brute-force attempt cannot fill it.
 */
export class TokenCache {
  readonly #entries = new Map<string, { record: ApiTokenRecord; until: number }>();

  constructor(
    private readonly store: LeaseStore,
    private readonly ttlMs: number,
    private readonly monotonic: () => number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Lookups in flight by hash: concurrent requests with one token share one store read. */
  readonly #reading = new Map<string, Promise<ApiTokenRecord | undefined>>();

  async find(hash: string): Promise<ApiTokenRecord | undefined> {
    const now = this.monotonic();
    const hit = this.#entries.get(hash);
    if (hit && hit.until > now) {
      // Past half its time, a token in use is read again in the background, so a busy client's requests
      // do not wait for a read each time its entry runs out. The entry's `until` is unchanged by this:
      // a revocation still takes effect within ttlMs.
      if (hit.until - now < this.ttlMs / 2) this.#read(hash).catch(() => undefined);
      return hit.record;
    }
    return this.#read(hash);
  }

  #read(hash: string): Promise<ApiTokenRecord | undefined> {
    const reading = this.#reading.get(hash);
    if (reading) return reading;
    const startedAt = this.monotonic();
    const read: Promise<ApiTokenRecord | undefined> = this.store.findTokenByHash(hash).then(
      (record) => {
        // A `forget` or `clear` while it was in flight (a revocation through this node) drops what it
        // read: it may predate the revocation.
        if (this.#reading.get(hash) !== read) return record;
        this.#reading.delete(hash);
        if (record && record.revokedAt === undefined && this.ttlMs > 0) {
          if (this.#entries.size >= this.maxEntries) this.#entries.clear();
          // From when the read began: what it found was true then.
          this.#entries.set(hash, { record, until: startedAt + this.ttlMs });
        } else {
          this.#entries.delete(hash);
        }
        return record;
      },
      (err: unknown) => {
        if (this.#reading.get(hash) === read) this.#reading.delete(hash);
        throw err;
      },
    );
    this.#reading.set(hash, read);
    return read;
  }

  /** Forgets a token at once on this node (revocation through this node). */
  forget(hash: string): void {
    this.#entries.delete(hash);
    this.#reading.delete(hash);
  }

  /** Forgets every token (the node replaced its admin token at start, revoking the one before). */
  clear(): void {
    this.#entries.clear();
    this.#reading.clear();
  }
}
