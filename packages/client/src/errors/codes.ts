/**
 * Codes a Leasehold node may answer with, copied from the server's registry
 * (`packages/domain/src/errors/registry.ts`). The SDK may not depend on the server packages, so the list
 * is repeated here and `test/public-api.test.ts` keeps the two in step. A newer node may send a code
 * this list does not know yet; it still reaches the caller as a string.
 *
 * @example
 * ```ts
 * if (SERVER_ERROR_CODES.includes(err.code as ServerErrorCode)) reportToVendor(err.problem);
 * ```
 */
export const SERVER_ERROR_CODES = Object.freeze([
  'VALIDATION_FAILED',
  'MALFORMED_REQUEST',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'ROUTE_NOT_FOUND',
  'BAD_URL',
  'URL_TOO_LONG',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TOKEN_NOT_FOUND',
  'RATE_LIMITED',
  'PEER_CERTIFICATE_REQUIRED',
  'LICENSE_MALFORMED',
  'LICENSE_ALG_FORBIDDEN',
  'LICENSE_KEY_UNTRUSTED',
  'LICENSE_KID_UNKNOWN',
  'LICENSE_SIGNATURE_INVALID',
  'LICENSE_DECRYPTION_FAILED',
  'LICENSE_EXPIRED',
  'LICENSE_NOT_YET_VALID',
  'LICENSE_REPLAYED',
  'LICENSE_NOT_FOUND',
  'LICENSE_REVOKED',
  'LICENSE_CLUSTER_MISMATCH',
  'LICENSE_UNTRUSTED',
  'LICENSE_TAMPERED',
  'FEATURE_NOT_LICENSED',
  'SEATS_EXHAUSTED',
  'REQUEST_ID_CONFLICT',
  'LEASE_NOT_FOUND',
  'LEASE_NOT_OWNED',
  'LEASE_EXPIRED',
  'LEASE_RELEASED',
  'LEASE_REVOKED',
  'SEAT_BLOCK_EXPIRED',
  'SEAT_BLOCK_FULL',
  'EDGE_AUDIT_CHAIN_BROKEN',
  'STORE_UNAVAILABLE',
  'NODE_SHUTTING_DOWN',
  'TOO_MANY_STREAMS',
  'CLOCK_BEHIND',
  'REPLICATION_HISTORY_COMPACTED',
  'REPLICA_READ_ONLY',
  'PROMOTION_LEARNING',
  'PRIMARY_FENCED',
  'EPOCH_STALE',
  'NOT_A_REPLICA',
  'REPLICA_PROMOTED',
  'UPSTREAM_TLS_FAILED',
  'KEK_MISMATCH',
  'KEK_INVALID',
  'DATA_DECRYPTION_FAILED',
  'STORE_SCHEMA_TOO_NEW',
  'INTERNAL',
] as const);

/**
 * A code from the server's error registry. The SDK raises one of them itself: `LICENSE_UNTRUSTED`, when a
 * grant does not chain to a license signed by `vendorKeys` (not retryable).
 */
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Codes the SDK itself produces, with whether retrying later can help.
 *
 * - `NETWORK_ERROR`: the node could not be reached or the connection broke (retryable).
 * - `TIMEOUT`: the node did not answer within `timeoutMs` (retryable; a checkout's outcome is then
 *   unknown, which is why a retry reuses its request id).
 * - `BAD_RESPONSE`: the answer was not a Leasehold answer — a proxy's error page, a node that is
 *   shutting down, a body of the wrong shape (retryable: another node may answer properly).
 * - `ALL_SERVERS_FAILED`: every attempt on every node failed with a retryable error; `attempts` lists them.
 * - `TOKEN_INVALID`, `TOKEN_EXPIRED`, `TOKEN_KID_UNKNOWN`: offline lease-token verification failed. When
 *   the token came from a node in answer to a call, the attempt is retryable instead: another node of the
 *   cluster signs with the right key, and a checkout's request id makes the retry safe.
 * - `CLIENT_CLOSED`: `close()` was called; the client takes no more calls.
 *
 * @example
 * ```ts
 * const transient = Object.keys(CLIENT_ERROR_CODES).filter((c) => CLIENT_ERROR_CODES[c as ClientErrorCode].retryable);
 * ```
 */
export const CLIENT_ERROR_CODES = Object.freeze({
  NETWORK_ERROR: { retryable: true },
  TIMEOUT: { retryable: true },
  BAD_RESPONSE: { retryable: true },
  ALL_SERVERS_FAILED: { retryable: true },
  TOKEN_INVALID: { retryable: false },
  TOKEN_EXPIRED: { retryable: false },
  TOKEN_KID_UNKNOWN: { retryable: false },
  CLIENT_CLOSED: { retryable: false },
} as const);

/** A code the SDK produces itself. */
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/**
 * Every code a {@link LeaseholdClientError} may carry. `(string & {})` admits codes from newer nodes
 * while keeping editor completion for the known ones.
 */
export type LeaseholdErrorCode = ClientErrorCode | ServerErrorCode | (string & {});
