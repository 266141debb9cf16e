/**
 * @leasehold/client — check floating seats out of a Leasehold cluster, with failover, and verify lease
 * tokens offline. Everything public is named here; nothing else is part of the API.
 */

export type { JSONWebKeySet } from 'jose';
export {
  type CheckoutOptions,
  createClient,
  type LeaseholdClient,
} from './client/leasehold-client.js';
export type { ClientOptions, RetryOptions } from './client/options.js';
export {
  CLIENT_ERROR_CODES,
  type ClientErrorCode,
  type LeaseholdErrorCode,
  SERVER_ERROR_CODES,
  type ServerErrorCode,
} from './errors/codes.js';
export {
  isLeaseholdClientError,
  LeaseholdClientError,
  type LeaseholdClientErrorInit,
} from './errors/leasehold-client-error.js';
export type { Lease } from './lease/lease.js';
export type { LeaseInfo, LeaseState } from './lease/lease-info.js';
export type { Clock } from './time/clock.js';
export { type FetchJwksOptions, fetchJwks } from './token/fetch-jwks.js';
export { LEASE_TOKEN_TYP, type LeaseTokenClaims } from './token/lease-token-claims.js';
export { type VerifyLeaseTokenOptions, verifyLeaseToken } from './token/verify-lease-token.js';
export type { FetchFunction } from './transport/http-call.js';
