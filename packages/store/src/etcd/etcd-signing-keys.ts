import {
  openIdentityKey,
  openSigningKey,
  sealIdentityKey,
  sealSigningKey,
} from '../crypto/sealed-records.js';
import type { StoredSigningKey } from '../port/lease-store.js';
import type { EtcdContext } from './etcd-context.js';
import { decodeJson } from './records.js';

/** The cluster's lease-token signing keys and identity key in etcd, private keys sealed under the data key. */
export class EtcdSigningKeys {
  constructor(private readonly ctx: EtcdContext) {}

  /** The stored keys, or `candidate` stored as the first one when there are none. */
  ensure(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const existing = await this.list();
      if (existing.length > 0) return existing;
      // Create-if-absent on a fixed marker key, so two nodes starting at once keep one key between them.
      const marker = `${ctx.keys.signingKeys()}~first`;
      await ctx.commit(
        [{ key: marker, target: 'Create', equals: 0 }],
        [
          { put: marker, value: candidate.kid },
          {
            put: ctx.keys.signingKey(candidate.kid),
            value: JSON.stringify(sealSigningKey(candidate, ctx.sealer())),
          },
        ],
      );
      return [candidate];
    });
  }

  /** The cluster identity key, or `candidate` stored as it when there is none (create-if-absent). */
  ensureIdentity(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    const { ctx } = this;
    const key = ctx.keys.clusterIdentity();
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ key }]);
      const kv = results[0]?.[0];
      if (kv) return openIdentityKey(decodeJson<StoredSigningKey>(kv), ctx.sealer());
      // A node that starts at the same moment loses this compare and reads the winner's key next round.
      await ctx.commit(
        [{ key, target: 'Create', equals: 0 }],
        [{ put: key, value: JSON.stringify(sealIdentityKey(candidate, ctx.sealer())) }],
      );
      return candidate;
    });
  }

  /** Newest first. */
  async list(): Promise<StoredSigningKey[]> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() =>
      ctx.gateway.read([{ prefix: ctx.keys.signingKeys() }]),
    );
    return (results[0] ?? [])
      .filter((kv) => !kv.key.endsWith('~first'))
      .map((kv) => openSigningKey(decodeJson<StoredSigningKey>(kv), ctx.sealer()))
      .sort((a, b) => b.createdAt - a.createdAt || a.kid.localeCompare(b.kid));
  }
}
