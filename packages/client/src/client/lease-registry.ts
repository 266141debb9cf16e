import type { LeaseHandle } from '../lease/lease-handle.js';

/** The leases a client holds, by id (for renew/release by id) and by feature (for `isEntitled`). */
export class LeaseRegistry {
  readonly #byFeature = new Map<string, Set<LeaseHandle>>();
  readonly #byId = new Map<string, LeaseHandle>();

  get(leaseId: string): LeaseHandle | undefined {
    return this.#byId.get(leaseId);
  }

  values(): IterableIterator<LeaseHandle> {
    return this.#byId.values();
  }

  add(lease: LeaseHandle): void {
    if (lease.status === 'closed') return;
    this.#byId.set(lease.id, lease);
    let leases = this.#byFeature.get(lease.feature);
    if (!leases) {
      leases = new Set();
      this.#byFeature.set(lease.feature, leases);
    }
    leases.add(lease);
  }

  /** Files a lease that was replaced by a new checkout under its new id. */
  rename(previousId: string): void {
    const handle = this.#byId.get(previousId);
    if (handle) {
      this.#byId.delete(previousId);
      this.#byId.set(handle.id, handle);
    }
  }

  delete(lease: LeaseHandle): void {
    for (const [id, held] of this.#byId) if (held === lease) this.#byId.delete(id);
    const leases = this.#byFeature.get(lease.feature);
    leases?.delete(lease);
    if (leases?.size === 0) this.#byFeature.delete(lease.feature);
  }

  isEntitled(feature: string): boolean {
    const leases = this.#byFeature.get(feature);
    if (leases === undefined) return false;
    for (const lease of leases) if (lease.entitled) return true;
    return false;
  }
}
