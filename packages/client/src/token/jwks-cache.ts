import type { JSONWebKeySet } from 'jose';
import { isLeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { LeaseTokenClaims } from './lease-token-claims.js';
import { type VerifyLeaseTokenOptions, verifyLeaseToken } from './verify-lease-token.js';

/**
 * The cluster's JWK Set as this client last saw it. A token signed by a key the set lacks means the
 * cluster rotated its key: the set is fetched again — from the node that sent the token, which signed
 * with the new key and so already publishes it — and the token verified once more. A node that sends
 * a token no key of its own set verifies is broken, and the caller fails over.
 */
export class JwksCache {
  #jwks: JSONWebKeySet | undefined;
  readonly #onChange: (jwks: JSONWebKeySet) => void;
  readonly #inflight = new Map<string, Promise<JSONWebKeySet>>();

  constructor(onChange: (jwks: JSONWebKeySet) => void) {
    this.#onChange = onChange;
  }

  get current(): JSONWebKeySet | undefined {
    return this.#jwks;
  }

  /** Replaces the set (a fresh download, or one loaded from the state store). */
  set(jwks: JSONWebKeySet): void {
    if (this.#jwks && sameKeys(this.#jwks, jwks)) return;
    this.#jwks = jwks;
    this.#onChange(jwks);
  }

  /**
   * Verifies a token a node sent, fetching the set from that node (`download`) when there is none yet
   * or when the token names a key it lacks. Concurrent downloads from one node are shared.
   */
  async verifyFrom(
    server: string,
    download: () => Promise<JSONWebKeySet>,
    token: string,
    options: VerifyLeaseTokenOptions,
  ): Promise<LeaseTokenClaims> {
    const fetchFromServer = async () => {
      let pending = this.#inflight.get(server);
      if (!pending) {
        pending = download().finally(() => this.#inflight.delete(server));
        this.#inflight.set(server, pending);
      }
      const jwks = await pending;
      this.set(jwks);
      return jwks;
    };
    const jwks = this.#jwks ?? (await fetchFromServer());
    try {
      return await verifyLeaseToken(token, jwks, options);
    } catch (err) {
      if (!isLeaseholdClientError(err, 'TOKEN_KID_UNKNOWN')) throw err;
      const fresh = await fetchFromServer();
      if (sameKeys(fresh, jwks)) throw err;
      return verifyLeaseToken(token, fresh, options);
    }
  }
}

function sameKeys(a: JSONWebKeySet, b: JSONWebKeySet): boolean {
  return JSON.stringify(a.keys) === JSON.stringify(b.keys);
}
