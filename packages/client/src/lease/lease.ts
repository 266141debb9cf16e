import type { LeaseGrant, LeaseInfo, LeaseState } from './lease-info.js';

/**
 * A seat this client holds: the node's latest view of it, its current token, and the calls that act on
 * it. `renew()` and `release()` update the same object, so code that keeps a `Lease` always reads the
 * newest token.
 *
 * @example
 * ```ts
 * const lease = await client.checkout('cad');
 * setTimeout(() => lease.renew(), lease.renewAfter.getTime() - Date.now());
 * // ... on exit:
 * await lease.release();
 * ```
 */
export interface Lease extends LeaseInfo {
  /** The latest lease token (a JWT signed by the cluster key). */
  readonly token: string;
  /** Renews the lease on any node; resolves to this lease, updated. */
  renew(): Promise<Lease>;
  /** Checks the seat back in (idempotent); resolves to the lease's final view. */
  release(): Promise<LeaseInfo>;
}

/** What a lease needs from its client: the two calls, with the client's failover. */
export interface LeaseOperations {
  renewLease(leaseId: string): Promise<LeaseGrant>;
  releaseLease(leaseId: string): Promise<LeaseInfo>;
}

/** The SDK's {@link Lease}. Not exported: callers get leases from the client. */
export class LeaseHandle implements Lease {
  readonly #operations: LeaseOperations;
  #view: LeaseInfo;
  #token: string;

  constructor(grant: LeaseGrant, operations: LeaseOperations) {
    this.#operations = operations;
    this.#view = grant;
    this.#token = grant.token;
  }

  get id(): string {
    return this.#view.id;
  }
  get license(): string {
    return this.#view.license;
  }
  get feature(): string {
    return this.#view.feature;
  }
  get state(): LeaseState {
    return this.#view.state;
  }
  get slot(): number {
    return this.#view.slot;
  }
  get fence(): number {
    return this.#view.fence;
  }
  get requestId(): string {
    return this.#view.requestId;
  }
  get expiresAt(): Date {
    return new Date(this.#view.expiresAt);
  }
  get renewAfter(): Date {
    return new Date(this.#view.renewAfter);
  }
  get reservedUntil(): Date {
    return new Date(this.#view.reservedUntil);
  }
  get graceSeconds(): number {
    return this.#view.graceSeconds;
  }
  get endedAt(): Date | undefined {
    return this.#view.endedAt && new Date(this.#view.endedAt);
  }
  get token(): string {
    return this.#token;
  }

  async renew(): Promise<Lease> {
    const grant = await this.#operations.renewLease(this.#view.id);
    // Two renewals in flight may answer out of order; keep the one that reaches further. The store never
    // shortens a lease, so the later expiry is the newer answer.
    if (grant.expiresAt.getTime() >= this.#view.expiresAt.getTime()) {
      this.#view = grant;
      this.#token = grant.token;
    }
    return this;
  }

  async release(): Promise<LeaseInfo> {
    const final = await this.#operations.releaseLease(this.#view.id);
    this.#view = final;
    return final;
  }

  /** A plain snapshot for logs and `JSON.stringify`; the token is left out. */
  toJSON(): LeaseInfo {
    return { ...this.#view };
  }
}
