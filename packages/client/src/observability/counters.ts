/**
 * Counters the application can export (to Prometheus, OpenTelemetry, its own logs). They only grow, from
 * zero at `createClient`; read them with `client.metrics()`.
 *
 * - `requests` / `requestFailures`: attempts on one node, and those that failed with a retryable error.
 * - `failovers`: calls that succeeded on another node after one failed.
 * - `checkouts`, `renewals`, `releases`: successful calls; `renewalFailures`: renewal passes in which no
 *   node could renew.
 * - `leasesDegraded`, `leasesLost`, `leasesRestored`, `leasesReplaced`: lease events (see `LeaseEvents`).
 * - `tokensVerified` / `tokensRejected`: lease tokens from nodes that passed or failed verification.
 * - `grantsUntrusted`: grants refused with `LICENSE_UNTRUSTED` (no chain to a vendor-signed license).
 * - `jwksFetches`: JWK Set downloads (the first, and one per key rotation).
 * - `circuitOpens`: times a node's circuit breaker opened.
 */
export const COUNTER_NAMES = [
  'requests',
  'requestFailures',
  'failovers',
  'checkouts',
  'renewals',
  'renewalFailures',
  'releases',
  'leasesDegraded',
  'leasesLost',
  'leasesRestored',
  'leasesReplaced',
  'tokensVerified',
  'tokensRejected',
  'grantsUntrusted',
  'jwksFetches',
  'circuitOpens',
] as const;

export type ClientCounter = (typeof COUNTER_NAMES)[number];

export type Counters = Record<ClientCounter, number>;

export function newCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Counters;
}
