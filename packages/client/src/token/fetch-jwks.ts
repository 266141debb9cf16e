import type { JSONWebKeySet } from 'jose';
import { systemClock } from '../time/clock.js';
import { type FetchFunction, httpCall } from '../transport/http-call.js';
import { badResponse } from '../transport/read-answer.js';
import { normalizeServerUrl } from '../transport/server-url.js';

/** Options of {@link fetchJwks}. */
export interface FetchJwksOptions {
  /** Defaults to the global `fetch`. */
  readonly fetch?: FetchFunction;
  /** Defaults to 3000 ms. */
  readonly timeoutMs?: number;
}

export const JWKS_PATH = '.well-known/jwks.json';

/**
 * Fetches the cluster's public keys from one node's `/.well-known/jwks.json` (RFC 7517 JWK Set), for
 * {@link verifyLeaseToken}. Every node of a cluster publishes the same set. One attempt, no failover: a
 * client built with `createClient` has `client.jwks()`, which fails over.
 *
 * @example
 * ```ts
 * const jwks = await fetchJwks('https://license.example.com');
 * await writeFile('jwks.json', JSON.stringify(jwks)); // keep it for offline checks
 * ```
 */
export async function fetchJwks(server: string, options: FetchJwksOptions = {}): Promise<JSONWebKeySet> {
  const base = normalizeServerUrl(server);
  const { body } = await httpCall(
    base,
    { method: 'GET', path: JWKS_PATH },
    {
      fetch: options.fetch ?? ((url, init) => globalThis.fetch(url, init)),
      timeoutMs: options.timeoutMs ?? 3000,
      clock: systemClock,
    },
  );
  return parseJwks(body, base);
}

/** Checks that an answer is a JWK Set of objects; the keys themselves are checked when used. */
export function parseJwks(json: unknown, server: string): JSONWebKeySet {
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw badResponse(server, undefined, 'a body that is not a JWK Set');
  }
  return json as JSONWebKeySet;
}
