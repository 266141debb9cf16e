/**
 * The one registry of Leasehold error codes. Every failure that leaves a node carries one of these codes,
 * its HTTP status and whether retrying (on this or another node) can succeed. `docs/errors.md` lists the
 * same table; `packages/domain/test/error-registry.test.ts` keeps the two in step (as fastify does for
 * `lib/errors.js`).
 *
 * `retryable` is the one signal the client SDK uses to decide on failover: never the message text.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly title: string;
}

export const ERROR_REGISTRY = {
  // Requests that are wrong in shape.
  VALIDATION_FAILED: { status: 400, retryable: false, title: 'The request does not match the route schema' },
  MALFORMED_REQUEST: { status: 400, retryable: false, title: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, title: 'Send application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, title: 'The request body is too large' },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, title: 'The request headers are too large' },
  REQUEST_TIMEOUT: { status: 408, retryable: false, title: 'The request did not arrive in time' },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, title: 'No such route' },
  BAD_URL: { status: 400, retryable: false, title: 'The URL is not valid (bad percent-encoding)' },
  URL_TOO_LONG: { status: 414, retryable: false, title: 'A path parameter is over the length limit' },

  // Authentication and authorization.
  UNAUTHENTICATED: { status: 401, retryable: false, title: 'A valid bearer token is required' },
  FORBIDDEN: { status: 403, retryable: false, title: 'The token does not allow this operation' },
  TOKEN_NOT_FOUND: { status: 404, retryable: false, title: 'No such API token' },
  RATE_LIMITED: { status: 429, retryable: true, title: 'Too many requests; wait for Retry-After' },
  PEER_CERTIFICATE_REQUIRED: {
    status: 401,
    retryable: false,
    title: 'This node-to-node route needs a client certificate from the cluster CA',
  },

  // License files.
  LICENSE_MALFORMED: {
    status: 400,
    retryable: false,
    title: 'The license file is not a well-formed license',
  },
  LICENSE_ALG_FORBIDDEN: { status: 422, retryable: false, title: 'The license uses a forbidden algorithm' },
  LICENSE_KEY_UNTRUSTED: {
    status: 422,
    retryable: false,
    title: 'The license names or embeds a key that is not trusted',
  },
  LICENSE_KID_UNKNOWN: {
    status: 422,
    retryable: false,
    title: 'The license key id is not a trusted vendor key',
  },
  LICENSE_SIGNATURE_INVALID: {
    status: 422,
    retryable: false,
    title: 'The license signature does not verify',
  },
  LICENSE_DECRYPTION_FAILED: {
    status: 422,
    retryable: false,
    title: 'The encrypted license cannot be decrypted',
  },
  LICENSE_EXPIRED: { status: 422, retryable: false, title: 'The license has expired' },
  LICENSE_NOT_YET_VALID: { status: 422, retryable: false, title: 'The license is not valid yet' },
  LICENSE_REPLAYED: {
    status: 409,
    retryable: false,
    title: 'A newer or different version of this license is already installed',
  },
  LICENSE_NOT_FOUND: { status: 404, retryable: false, title: 'No such license' },
  LICENSE_REVOKED: { status: 409, retryable: false, title: 'The license has been revoked' },
  LICENSE_TAMPERED: {
    status: 409,
    retryable: false,
    title: 'The stored license does not match its vendor signature; it grants nothing until reinstalled',
  },
  LICENSE_CLUSTER_MISMATCH: {
    status: 422,
    retryable: false,
    title: 'The license is bound to other clusters than this one',
  },
  LICENSE_UNTRUSTED: {
    status: 422,
    retryable: false,
    title: "A grant does not chain to a license signed by the product's vendor keys",
  },

  // Seats and leases.
  FEATURE_NOT_LICENSED: { status: 404, retryable: false, title: 'No installed license grants this feature' },
  SEATS_EXHAUSTED: { status: 409, retryable: false, title: 'Every seat of this feature is in use' },
  REQUEST_ID_CONFLICT: {
    status: 409,
    retryable: false,
    title: 'This request id was already used for a different checkout',
  },
  LEASE_NOT_FOUND: { status: 404, retryable: false, title: 'No such lease' },
  LEASE_NOT_OWNED: {
    status: 403,
    retryable: false,
    title: 'The lease was granted to another client id; only that client may renew or release it',
  },
  LEASE_EXPIRED: { status: 410, retryable: false, title: 'The lease expired; check a new seat out' },
  LEASE_RELEASED: { status: 410, retryable: false, title: 'The lease was checked in' },
  LEASE_REVOKED: { status: 410, retryable: false, title: 'The lease was revoked by an operator' },
  // Edge sites (docs/replication.md): an edge grants only within the seat block it holds from the primary.
  SEAT_BLOCK_EXPIRED: {
    status: 503,
    retryable: true,
    title: "This edge site's seat block ran out while the primary was unreachable; try another node",
  },
  SEAT_BLOCK_FULL: {
    status: 409,
    retryable: false,
    title: "Every seat of this edge site's block is in use",
  },
  EDGE_AUDIT_CHAIN_BROKEN: {
    status: 422,
    retryable: false,
    title: 'The uploaded audit events do not form an unbroken hash chain',
  },

  // Availability.
  STORE_UNAVAILABLE: { status: 503, retryable: true, title: 'The store cannot be reached; try another node' },
  NODE_SHUTTING_DOWN: { status: 503, retryable: true, title: 'This node is shutting down; try another node' },
  TOO_MANY_STREAMS: {
    status: 503,
    retryable: true,
    title: 'This node has as many live event streams open as it allows; try another node',
  },
  CLOCK_BEHIND: {
    status: 503,
    retryable: true,
    title: "This node's clock is earlier than the latest time it signed with; try another node",
  },

  // Replication (docs/replication.md).
  REPLICATION_HISTORY_COMPACTED: {
    status: 410,
    retryable: false,
    title: 'The change history below this revision is gone; reload the snapshot and resume after it',
  },
  REPLICA_READ_ONLY: {
    status: 503,
    retryable: true,
    title: 'This node is a read-only replica; send writes to the primary',
  },
  // Promotion and fencing (docs/replication.md, "Promotion").
  PROMOTION_LEARNING: {
    status: 503,
    retryable: true,
    title:
      'This node was promoted and holds new grants for one lease TTL (learning mode); renewals are served',
  },
  PRIMARY_FENCED: {
    status: 503,
    retryable: true,
    title: 'A replica was promoted over this primary under a newer epoch; send writes to the new primary',
  },
  EPOCH_STALE: {
    status: 409,
    retryable: false,
    title: 'The fencing epoch named is not newer than the one this node holds',
  },
  NOT_A_REPLICA: {
    status: 409,
    retryable: false,
    title: 'Only a replica (--replica-of) can be promoted; this node is a primary already',
  },
  REPLICA_PROMOTED: {
    status: 500,
    retryable: true,
    title: 'This data directory was promoted to a primary: it cannot follow a primary again',
  },
  UPSTREAM_TLS_FAILED: {
    status: 502,
    retryable: true,
    title:
      "TLS with the primary failed: its certificate is not trusted, or it refused this node's certificate",
  },

  // Encryption at rest. They stop a node at start; 5xx and retryable like INTERNAL: another node, with the
  // right key, may answer.
  KEK_MISMATCH: {
    status: 500,
    retryable: true,
    title: 'The key-encryption key does not unwrap the stored data key',
  },
  KEK_INVALID: { status: 500, retryable: true, title: 'The key-encryption key is missing or malformed' },
  DATA_DECRYPTION_FAILED: {
    status: 500,
    retryable: true,
    title: 'A stored record does not decrypt under the data key (tampered or swapped)',
  },
  // Store schema versions (docs/deploy.md, "Rolling upgrades"): a node never works on a store written by
  // a newer release than it understands. Retryable: a node of the newer release can answer.
  STORE_SCHEMA_TOO_NEW: {
    status: 500,
    retryable: true,
    title: 'The store was written by a newer Leasehold than this node understands',
  },
  INTERNAL: { status: 500, retryable: true, title: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

export const ERROR_CODES = Object.freeze(Object.keys(ERROR_REGISTRY) as ErrorCode[]);

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_REGISTRY[code];
}
