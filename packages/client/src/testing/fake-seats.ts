import { randomUUID } from 'node:crypto';
import { ENDED, type FakeLease, holdsSeat, leaseState, type MutableLease } from './fake-lease.js';
import { Problem } from './fake-problem.js';

/** The seat rules of the fake cluster's one license. */
export interface FakeSeatsOptions {
  readonly licenseId: string;
  /** Seats per feature. */
  readonly features: Readonly<Record<string, number>>;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly policy: 'strict' | 'overdraft';
}

/** What a checkout answers: 201 for a new lease, 200 for a replayed request id. */
export interface FakeCheckout {
  readonly status: 200 | 201;
  readonly lease: FakeLease;
}

/**
 * The fake cluster's lease table and the rules the real store keeps for what the SDK uses: checkout
 * idempotent by client id and request id, seats per feature (the lowest free slot), renewals that never
 * shorten a reservation, strict and overdraft grace, release, operator revocation. Every refusal is a
 * {@link Problem} with the server's code; the cluster turns leases into answers (views, tokens).
 */
export class FakeSeats {
  readonly #options: FakeSeatsOptions;
  readonly #leases = new Map<string, MutableLease>();
  readonly #byRequest = new Map<string, MutableLease>();
  #revision = 0;
  #licenseRevoked = false;

  constructor(options: FakeSeatsOptions) {
    this.#options = options;
  }

  /** The leases, oldest first (copies). */
  leases(): FakeLease[] {
    return [...this.#leases.values()].map((lease) => ({ ...lease }));
  }

  /** Seats of `feature` held at `now`. */
  inUse(feature: string, now: number): number {
    return [...this.#leases.values()].filter((l) => l.feature === feature && holdsSeat(l, now)).length;
  }

  /** An operator's force-release at `now`: renewals answer LEASE_REVOKED; the seat frees at its reservation's end. */
  revoke(leaseId: string, now: number): void {
    const lease = this.#leases.get(leaseId);
    if (!lease) throw new TypeError(`no lease ${leaseId}`);
    lease.revokedAt = now;
  }

  /** Revokes the license: checkouts and renewals answer LICENSE_REVOKED. */
  revokeLicense(): void {
    this.#licenseRevoked = true;
  }

  /** A checkout as `POST /v1/leases` with `body`, granted by `nodeId`. */
  checkout(body: Record<string, unknown>, nodeId: string, now: number): FakeCheckout {
    const { feature, requestId, license } = body;
    const client = body.client as { id?: unknown } | undefined;
    if (
      typeof feature !== 'string' ||
      typeof requestId !== 'string' ||
      !/^[A-Za-z0-9._:-]{8,128}$/.test(requestId) ||
      typeof client?.id !== 'string'
    ) {
      throw new Problem('VALIDATION_FAILED');
    }
    if (license !== undefined && license !== this.#options.licenseId) throw new Problem('FORBIDDEN');
    if (this.#licenseRevoked) throw new Problem('LICENSE_REVOKED');
    const seats = this.#options.features[feature];
    if (seats === undefined) throw new Problem('FEATURE_NOT_LICENSED');
    const replayKey = `${client.id}\u0000${requestId}`;
    const replayed = this.#byRequest.get(replayKey);
    if (replayed) {
      if (replayed.feature !== feature) throw new Problem('REQUEST_ID_CONFLICT');
      const state = leaseState(replayed, now);
      if (state !== 'active') throw new Problem(ENDED[state]);
      return { status: 200, lease: replayed };
    }
    const taken = new Set(
      [...this.#leases.values()].filter((l) => l.feature === feature && holdsSeat(l, now)).map((l) => l.slot),
    );
    if (taken.size >= seats) throw new Problem('SEATS_EXHAUSTED', { seats, inUse: taken.size });
    let slot = 0;
    while (taken.has(slot)) slot++;
    const expiresAt = now + this.#options.ttlMs;
    const lease: MutableLease = {
      id: randomUUID(),
      requestId,
      clientId: client.id,
      grantedBy: nodeId,
      feature,
      slot,
      fence: ++this.#revision,
      createdAt: now,
      renewedAt: now,
      expiresAt,
      reservedUntil: this.#options.policy === 'strict' ? expiresAt + this.#options.graceMs : expiresAt,
      revokedAt: undefined,
      endedAt: undefined,
      endReason: undefined,
    };
    this.#leases.set(lease.id, lease);
    this.#byRequest.set(replayKey, lease);
    return { status: 201, lease };
  }

  /** A renewal as `POST /v1/leases/{id}/renew`. */
  renew(id: string, now: number): FakeLease {
    const lease = this.get(id);
    if (lease.endReason === 'released') throw new Problem('LEASE_RELEASED');
    if (lease.endReason === 'revoked' || (lease.revokedAt !== undefined && holdsSeat(lease, now))) {
      throw new Problem('LEASE_REVOKED');
    }
    if (!holdsSeat(lease, now)) throw new Problem('LEASE_EXPIRED');
    if (this.#licenseRevoked) throw new Problem('LICENSE_REVOKED');
    const { ttlMs, graceMs, policy } = this.#options;
    lease.renewedAt = now;
    lease.expiresAt = now + ttlMs;
    // Reservations only grow (docs/leases.md).
    const reserved = policy === 'strict' ? lease.expiresAt + graceMs : lease.expiresAt;
    lease.reservedUntil = Math.max(lease.reservedUntil, reserved);
    return lease;
  }

  /** A check-in as `DELETE /v1/leases/{id}` (idempotent). */
  release(id: string, now: number): FakeLease {
    const lease = this.get(id);
    if (lease.endReason === undefined && holdsSeat(lease, now)) {
      lease.endReason = 'released';
      lease.endedAt = now;
    }
    return lease;
  }

  get(id: string): MutableLease {
    const lease = this.#leases.get(id);
    if (!lease) throw new Problem('LEASE_NOT_FOUND');
    return lease;
  }
}
