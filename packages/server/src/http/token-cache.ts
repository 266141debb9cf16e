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

  async find(hash: string): Promise<ApiTokenRecord | undefined> {
    const now = this.monotonic();
    const hit = this.#entries.get(hash);
    if (hit && hit.until > now) return hit.record;
    const record = await this.store.findTokenByHash(hash);
    if (record && record.revokedAt === undefined && this.ttlMs > 0) {
      if (this.#entries.size >= this.maxEntries) this.#entries.clear();
      this.#entries.set(hash, { record, until: now + this.ttlMs });
    } else {
      this.#entries.delete(hash);
    }
    return record;
  }

  /** Forgets a token at once on this node (revocation through this node). */
  forget(hash: string): void {
    this.#entries.delete(hash);
  }

  /** Forgets every token (the node replaced its admin token at start, revoking the one before). */
  clear(): void {
    this.#entries.clear();
  }
}
