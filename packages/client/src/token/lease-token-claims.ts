/**
 * The JOSE `typ` header of a lease token (explicit typing, RFC 8725 §3.11): a license file or any other
 * JWT signed by the same key is never taken for a lease token.
 *
 * @example
 * ```ts
 * decodeProtectedHeader(lease.token).typ === LEASE_TOKEN_TYP; // true
 * ```
 */
export const LEASE_TOKEN_TYP = 'lease+jwt';

/**
 * The claims of a verified lease token. The server signs them with the cluster key; `grace` is signed so
 * that the offline grace period is the vendor's decision, never the client's.
 */
export interface LeaseTokenClaims {
  readonly iss: 'leasehold';
  /** The client id the seat was checked out for. */
  readonly sub: string;
  /** The lease id. */
  readonly jti: string;
  /** The license id. */
  readonly lic: string;
  /** The feature. */
  readonly feat: string;
  /** The version of the license the lease was granted under (absent from nodes older than issue 11). */
  readonly lver?: number;
  /** base64url(SHA-256) of that license's JWS: binds the token to exactly one vendor-signed license. */
  readonly lhash?: string;
  readonly fence: number;
  readonly slot: number;
  /** Grace period in seconds past `exp` while no node answers. */
  readonly grace: number;
  /**
   * The fencing epoch of the primary that signed (absent from older nodes: 1). The SDK refuses grants
   * of a lower epoch than the highest it has seen: an old primary superseded by a promoted replica.
   */
  readonly epoch?: number;
  /** Issued at, epoch seconds. */
  readonly iat: number;
  /** Expiry, epoch seconds. */
  readonly exp: number;
}
