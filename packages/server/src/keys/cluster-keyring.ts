import {
  generateKeyPairPems,
  importPrivateKey,
  LeaseholdError,
  type PrivateKeyInfo,
} from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { JWK } from 'jose';

/**
 * The cluster's lease-token signing keys. The first node to start generates an Ed25519 key and offers it
 * to the store; the store keeps whichever offer came first, so every node of a cluster signs with the
 * same key and publishes the same JWKS. Rotation adds keys; the newest signs, all verify.
 *
 * A keyring can exist before its keys are loaded (a node that starts while its store is down): until
 * then it signs nothing and says STORE_UNAVAILABLE, and the node is not ready.
 */
export class ClusterKeyring {
  #keys: readonly PrivateKeyInfo[] = [];

  static async load(store: LeaseStore, now: number): Promise<ClusterKeyring> {
    const keyring = new ClusterKeyring();
    await keyring.loadFrom(store, now);
    return keyring;
  }

  /** A keyring with no keys yet; fill it with `loadFrom`. */
  static empty(): ClusterKeyring {
    return new ClusterKeyring();
  }

  async loadFrom(store: LeaseStore, now: number): Promise<void> {
    let stored = await store.listSigningKeys();
    if (stored.length === 0) {
      const candidate = await generateKeyPairPems('sig');
      stored = await store.ensureSigningKey({
        kid: candidate.kid,
        privatePem: candidate.privatePem,
        createdAt: now,
      });
    }
    this.#keys = await Promise.all(stored.map((k) => importPrivateKey(k.privatePem, 'sig')));
  }

  get loaded(): boolean {
    return this.#keys.length > 0;
  }

  /** The key new lease tokens are signed with. */
  get signer(): PrivateKeyInfo {
    const [newest] = this.#keys;
    if (!newest) throw notLoaded();
    return newest;
  }

  /** RFC 7517 JWK Set of the public halves, for `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] } {
    if (!this.loaded) throw notLoaded();
    return { keys: this.#keys.map((k) => ({ ...k.publicJwk })) };
  }
}

function notLoaded(): LeaseholdError {
  return new LeaseholdError(
    'STORE_UNAVAILABLE',
    'this node has not loaded the cluster signing key from its store yet',
  );
}
