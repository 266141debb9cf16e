/** Where a lease stands, as the node saw it when it answered. */
export type LeaseState = 'active' | 'expired' | 'released' | 'revoked';

/**
 * A lease as a node describes it. Times are the store's, not this machine's.
 */
export interface LeaseInfo {
  readonly id: string;
  /** The license the seat was drawn from. */
  readonly license: string;
  readonly feature: string;
  readonly state: LeaseState;
  /** The seat number within the license's seats for the feature. */
  readonly slot: number;
  /** Grows with every grant; a holder with a lower fence for the same slot is stale. */
  readonly fence: number;
  /** The idempotency key of the checkout that created the lease. */
  readonly requestId: string;
  /** When the node last granted or renewed the lease (its clock). */
  readonly renewedAt: Date;
  /** When the current token expires unless renewed. */
  readonly expiresAt: Date;
  /** When to renew: about a third into the lease, so two renewals may fail before it lapses. */
  readonly renewAfter: Date;
  /** When the store frees the seat (later than `expiresAt` by the grace period under a strict policy). */
  readonly reservedUntil: Date;
  /** How long past `expiresAt` the vendor lets the product run while no node answers. */
  readonly graceSeconds: number;
  /** When the lease ended, once it has. */
  readonly endedAt: Date | undefined;
}

/** A lease with the signed token a node just issued for it. */
export interface LeaseGrant extends LeaseInfo {
  /** The lease token (a JWT); check it offline with `verifyLeaseToken`. */
  readonly token: string;
  /** The node's advice: renew this many seconds after it answered. */
  readonly renewInSeconds: number | undefined;
  /**
   * What the grant chains to (issue 11): the vendor-signed license the token is bound to, and the cluster
   * identity key's certificate of the key that signed the token. Checked against `vendorKeys`.
   */
  readonly chain: LeaseChain | undefined;
}

/** The chain a node sends with a grant; see {@link LeaseGrant.chain}. */
export interface LeaseChain {
  /** The license file's signed JWS. */
  readonly license: string | undefined;
  /** A JWT from the cluster identity key naming the token-signing key. */
  readonly keyCertificate: string | undefined;
}
