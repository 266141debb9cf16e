/** At most this many leases are remembered: a client holds a handful; this only bounds a misuse. */
const MAX_LEASES = 10_000;

/**
 * Which node served each lease last (its grant or its latest renewal), so that its renewals go back there
 * first (Balancer.pick's `prefer`). That node holds the lease's record in its cache and renews it without
 * reading it first (docs/ha.md, "Read-free renewals"). Only a preference: the balancer drops it for a node
 * that is down or much slower than the usual pick, and failover then moves on as for any call.
 */
export class LeaseAffinity {
  readonly #servedBy = new Map<string, string>();

  served(leaseId: string, server: string): void {
    this.#servedBy.delete(leaseId);
    this.#servedBy.set(leaseId, server);
    if (this.#servedBy.size > MAX_LEASES) {
      const oldest = this.#servedBy.keys().next();
      if (!oldest.done) this.#servedBy.delete(oldest.value);
    }
  }

  of(leaseId: string): string | undefined {
    return this.#servedBy.get(leaseId);
  }

  /** For a many-lease renewal: the node that served most of these leases last (ties: the first met). */
  forLeases(leaseIds: Iterable<string>): string | undefined {
    const votes = new Map<string, number>();
    let best: string | undefined;
    for (const id of leaseIds) {
      const server = this.#servedBy.get(id);
      if (server === undefined) continue;
      const count = (votes.get(server) ?? 0) + 1;
      votes.set(server, count);
      if (best === undefined || count > (votes.get(best) ?? 0)) best = server;
    }
    return best;
  }

  forget(leaseId: string): void {
    this.#servedBy.delete(leaseId);
  }
}
