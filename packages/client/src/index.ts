/**
 * @leasehold/client — check floating seats out of a Leasehold cluster, keep them renewed across node
 * failures, stay unlocked on signed tokens through a bounded offline grace, and verify lease tokens
 * offline. Everything public is named here; nothing else is part of the API. Test helpers (a fake
 * cluster, a manual clock, a TCP fault proxy) are in `@leasehold/client/testing`.
 */

export type { JSONWebKeySet } from 'jose';
export {
  type CheckoutOptions,
  type ClientEvents,
  type ClientMetrics,
  createClient,
  type LeaseholdClient,
} from './client/leasehold-client.js';
export type {
  CircuitBreakerOptions,
  ClientOptions,
  DiscoveryOptions,
  RenewalOptions,
  RetryOptions,
} from './client/options.js';
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
export type { Listener } from './events/emitter.js';
export type { Lease, LeaseEvents, LeaseStatus, LostReason, Operation } from './lease/lease.js';
export type { LeaseChain, LeaseGrant, LeaseInfo, LeaseState } from './lease/lease-info.js';
export { type ClientCounter, COUNTER_NAMES } from './observability/counters.js';
export { DIAGNOSTICS_CHANNELS, type DiagnosticsChannelName } from './observability/diagnostics.js';
export type { Logger } from './observability/logger.js';
export { type Clock, systemClock } from './time/clock.js';
export { fileStateStore, type StateStore } from './time/state-store.js';
export { type FetchJwksOptions, fetchJwks } from './token/fetch-jwks.js';
export { LEASE_TOKEN_TYP, type LeaseTokenClaims } from './token/lease-token-claims.js';
export { type VerifyLeaseTokenOptions, verifyLeaseToken } from './token/verify-lease-token.js';
export type { NodeStatus } from './transport/balancer.js';
export type { CircuitState } from './transport/circuit-breaker.js';
export type { DiscoveryState } from './transport/discovery.js';
export type { FetchFunction } from './transport/http-call.js';
export { type NodeFetchOptions, nodeFetch } from './transport/node-fetch.js';
export type { VendorKeyInput, VendorKeys } from './trust/vendor-keys.js';
