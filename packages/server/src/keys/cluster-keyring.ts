import { generateKeyPairPems, importPrivateKey, type PrivateKeyInfo } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { JWK } from 'jose';

/**
 * The cluster's lease-token signing keys. The first node to start generates an Ed25519 key and offers it
 * to the store; the store keeps whichever offer came first, so every node of a cluster signs with the
 * same key and publishes the same JWKS. Rotation adds keys; the newest signs, all verify.
 */
export class ClusterKeyring {
  private constructor(private readonly keys: readonly PrivateKeyInfo[]) {}

  static async load(store: LeaseStore, now: number): Promise<ClusterKeyring> {
    let stored = await store.listSigningKeys();
    if (stored.length === 0) {
      const candidate = await generateKeyPairPems('sig');
      stored = await store.ensureSigningKey({
        kid: candidate.kid,
        privatePem: candidate.privatePem,
        createdAt: now,
      });
    }
    const keys = await Promise.all(stored.map((k) => importPrivateKey(k.privatePem, 'sig')));
    return new ClusterKeyring(keys);
  }

  /** The key new lease tokens are signed with. */
  get signer(): PrivateKeyInfo {
    const [newest] = this.keys;
    if (!newest) throw new Error('the cluster keyring is empty');
    return newest;
  }

  /** RFC 7517 JWK Set of the public halves, for `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => ({ ...k.publicJwk })) };
  }
}
