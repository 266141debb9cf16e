import type { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { Listener } from '../events/emitter.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import type { LeaseInfo } from './lease-info.js';

/**
 * Where a lease stands for this client (its `state` is the node's last word on it):
 *
 * - `active`: renewals succeed; the feature is unlocked.
 * - `degraded`: no node answers; the feature stays unlocked on the signed token until its expiry plus
 *   its signed grace period.
 * - `lost`: the feature is locked — the grace ran out, or a node said the seat is gone and none was free.
 *   The SDK keeps trying to get a seat back and emits `restored` when it does.
 * - `closed`: nothing more will happen: the application released the lease, the client was closed, or a
 *   node ended it for good (revoked by an operator, released elsewhere, license no longer valid).
 */
export type LeaseStatus = 'active' | 'degraded' | 'lost' | 'closed';

/**
 * Why a lease was lost:
 * - `unreachable`: no node answered until the token's expiry plus grace.
 * - `seats-exhausted`: the lease had expired on the cluster and every seat was taken when the SDK tried
 *   to check a new one out.
 * - `revoked`: an operator force-released it (`LEASE_REVOKED`).
 * - `released`: someone checked it in with its id (`LEASE_RELEASED`).
 * - `rejected`: a node refused it for another reason (license revoked or expired, token no longer valid).
 */
export type LostReason = 'unreachable' | 'seats-exhausted' | 'revoked' | 'released' | 'rejected';

/** The call a failover happened in. */
export type Operation = 'checkout' | 'renew' | 'release' | 'jwks' | 'cluster';

/** Events of a lease; a client emits them for all its leases. */
export interface LeaseEvents {
  /** A renewal succeeded. */
  renewed: { readonly lease: Lease; readonly server: string };
  /**
   * A call moved on from a node that failed and succeeded on another: the only thing an application sees
   * of a node's death. `lease` is undefined for calls that concern no lease (JWKS, discovery).
   */
  failover: {
    readonly lease: Lease | undefined;
    readonly operation: Operation;
    readonly from: string;
    readonly to: string;
    readonly error: LeaseholdClientError;
  };
  /** No node answered a renewal. The feature stays unlocked for `entitledForMs` more at most. */
  degraded: { readonly lease: Lease; readonly error: LeaseholdClientError; readonly entitledForMs: number };
  /**
   * The feature must be locked. With `final: false` the SDK keeps trying to get a seat back (`restored`
   * follows when it does); with `final: true` it has given up and the lease is `closed`.
   */
  lost: {
    readonly lease: Lease;
    readonly reason: LostReason;
    readonly error: LeaseholdClientError | undefined;
    readonly final: boolean;
  };
  /** After `degraded` or `lost`, a node renewed the lease or granted a new one (`replaced: true`). */
  restored: { readonly lease: Lease; readonly server: string; readonly replaced: boolean };
  /**
   * The lease had ended on the cluster (its reservation ran out while no node answered) and the SDK
   * checked a new seat out with a new request id: `lease.id`, `token` and `fence` are the new lease's.
   */
  replaced: { readonly lease: Lease; readonly previousId: string };
}

/**
 * A seat this client holds: the node's latest view of it, its current token, and the calls that act on
 * it. The SDK renews it at about a third of its TTL on whichever node is healthy, fails over between
 * nodes, keeps the feature unlocked on the signed token while no node answers, and reports all of it as
 * events. `entitled` is the one thing a hot path needs.
 *
 * @example
 * ```ts
 * const lease = await client.checkout('cad');
 * lease.on('lost', () => ui.lockFeature('cad'));
 * lease.on('restored', () => ui.unlockFeature('cad'));
 * // ... on exit:
 * await lease.release();
 * ```
 */
export interface Lease extends LeaseInfo {
  /** The latest lease token (a JWT signed by the cluster key). */
  readonly token: string;
  /** The verified claims of {@link token}. */
  readonly claims: LeaseTokenClaims;
  readonly status: LeaseStatus;
  /**
   * Whether the feature may be used now: the lease is active, or degraded within the token's expiry plus
   * its signed grace. Synchronous and cheap (two clock reads), for hot paths.
   */
  readonly entitled: boolean;
  /** This machine's estimate of when `entitled` turns false unless a renewal succeeds first. */
  readonly entitledUntil: Date | undefined;
  /** Renews now, on any node; resolves to this lease, updated. */
  renew(): Promise<Lease>;
  /** Stops renewing and checks the seat back in (idempotent); resolves to the lease's final view. */
  release(): Promise<LeaseInfo>;
  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof LeaseEvents>(event: K, listener: Listener<LeaseEvents[K]>): () => void;
  off<K extends keyof LeaseEvents>(event: K, listener: Listener<LeaseEvents[K]>): void;
}
