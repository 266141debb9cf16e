import {
  certifySigningKey,
  generateKeyPairPems,
  importPrivateKey,
  LeaseholdError,
  type PrivateKeyInfo,
} from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { JWK } from 'jose';

/**
 * The cluster's lease-token signing keys and its identity key. The first node to start generates an
 * Ed25519 key of each kind and offers them to the store; the store keeps whichever offer came first, so
 * every node of a cluster signs with the same key and publishes the same JWKS. Rotation adds signing keys;
 * the newest signs, all verify.
 *
 * The identity key never changes: its RFC 7638 thumbprint is the cluster id (`leasehold cluster id`)
 * that licenses bind to, and it certifies every signing key (a signing-key certificate, sent with each
 * grant), so rotating the signing key needs no new license (issue 11, docs/security.md).
 *
 * A keyring can exist before its keys are loaded (a node that starts while its store is down): until
 * then it signs nothing and says STORE_UNAVAILABLE, and the node is not ready.
 */
export class ClusterKeyring {
  #keys: readonly PrivateKeyInfo[] = [];
  #identity: PrivateKeyInfo | undefined;
  #certificates: ReadonlyMap<string, string> = new Map();

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
    const offered = await generateKeyPairPems('sig');
    const identityRecord = await store.ensureClusterIdentity({
      kid: offered.kid,
      privatePem: offered.privatePem,
      createdAt: now,
    });
    let stored = await store.listSigningKeys();
    if (stored.length === 0) {
      const candidate = await generateKeyPairPems('sig');
      stored = await store.ensureSigningKey({
        kid: candidate.kid,
        privatePem: candidate.privatePem,
        createdAt: now,
      });
    }
    const identity = await importPrivateKey(identityRecord.privatePem, 'sig');
    const keys = await Promise.all(stored.map((k) => importPrivateKey(k.privatePem, 'sig')));
    const certificates = new Map<string, string>();
    for (const [i, key] of keys.entries()) {
      certificates.set(key.kid, await certifySigningKey(identity, key, stored[i]?.createdAt ?? now));
    }
    // Published together: a loaded keyring always has the identity and a certificate per key.
    this.#identity = identity;
    this.#certificates = certificates;
    this.#keys = keys;
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

  /** This cluster's id: the RFC 7638 thumbprint of its identity key (what `--bind-cluster` takes). */
  get clusterId(): string {
    if (!this.#identity) throw notLoaded();
    return this.#identity.kid;
  }

  /** The identity key's certificate of signing key `kid` (a JWT; see certifySigningKey). */
  certificate(kid: string): string {
    const certificate = this.#certificates.get(kid);
    if (certificate === undefined) throw notLoaded();
    return certificate;
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
