/**
 * One read shared by every gauge of a scrape and reused for `ttlMs`: the seat and cluster gauges read
 * the store, and a scrape (or several Prometheus servers) must not turn into a burst of etcd reads.
 * A failed read is not cached, so the next scrape tries again.
 */
export function scrapeCache<T>(read: () => Promise<T>, ttlMs: number, now: () => number): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (cached && t - cached.at < ttlMs) return cached.value;
    const value = read();
    const entry = { at: t, value };
    cached = entry;
    value.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return value;
  };
}
