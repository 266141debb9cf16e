import { type AuditContext, LeaseholdError, tokenEvent } from '@leasehold/domain';
import type { ApiTokenRecord } from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import type { EtcdContext } from './etcd-context.js';
import type { Compare, WriteOp } from './etcd-gateway.js';
import { decodeJson } from './records.js';

/**
 * API tokens in etcd: the record under its hash (the lookup every request makes), and a pointer from its
 * id to the hash (for revocation by id). Both are created in one transaction, create-if-absent.
 */
export class EtcdTokens {
  constructor(private readonly ctx: EtcdContext) {}

  create(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ key: ctx.keys.tokenHash(record.hash) }]);
      const existing = results[0]?.[0];
      if (existing) {
        const found = decodeJson<ApiTokenRecord>(existing);
        if (found.id === record.id) return found; // our own earlier attempt
        throw new LeaseholdError('VALIDATION_FAILED', 'a token with this secret exists already');
      }
      await ctx.commit(
        [
          { key: ctx.keys.tokenHash(record.hash), target: 'Create', equals: 0 },
          { key: ctx.keys.token(record.id), target: 'Create', equals: 0 },
        ],
        [
          { put: ctx.keys.tokenHash(record.hash), value: JSON.stringify(record) },
          { put: ctx.keys.token(record.id), value: record.hash },
          ctx.pending(tokenEvent(ctx.actor(audit), 'token.created', record, record.createdAt)),
        ],
      );
      return record;
    });
  }

  replaceNamed(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    const { ctx } = this;
    const actor = ctx.actor(audit);
    return ctx.optimistic.run(async () => {
      const { results } = await ctx.gateway.read([{ prefix: ctx.keys.tokenHashes() }]);
      const all = (results[0] ?? []).map((kv) => ({ kv, token: decodeJson<ApiTokenRecord>(kv) }));
      const writes: WriteOp[] = [];
      const compare: Compare[] = [];
      for (const { kv, token } of all) {
        if (token.name !== record.name || token.hash === record.hash || token.revokedAt !== undefined)
          continue;
        compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
        writes.push(
          { put: kv.key, value: JSON.stringify({ ...token, revokedAt: record.createdAt }) },
          ctx.pending(tokenEvent(actor, 'token.revoked', token, record.createdAt)),
        );
      }
      const same = all.find(({ token }) => token.hash === record.hash);
      let live: ApiTokenRecord = record;
      if (same && same.token.revokedAt === undefined) {
        live = same.token;
      } else {
        compare.push({
          key: ctx.keys.tokenHash(record.hash),
          target: 'Mod',
          equals: same?.kv.modRevision ?? 0,
        });
        writes.push(
          { put: ctx.keys.tokenHash(record.hash), value: JSON.stringify(record) },
          { put: ctx.keys.token(record.id), value: record.hash },
          ctx.pending(tokenEvent(actor, 'token.created', record, record.createdAt)),
        );
        if (same) writes.push({ delete: ctx.keys.token(same.token.id) });
      }
      if (writes.length > 0) await ctx.commit(compare, writes);
      return live;
    });
  }

  async findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() => ctx.gateway.read([{ key: ctx.keys.tokenHash(hash) }]));
    const kv = results[0]?.[0];
    return kv && decodeJson<ApiTokenRecord>(kv);
  }

  async list(): Promise<ApiTokenRecord[]> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() =>
      ctx.gateway.read([{ prefix: ctx.keys.tokenHashes() }]),
    );
    return (results[0] ?? [])
      .map((kv) => decodeJson<ApiTokenRecord>(kv))
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  revoke(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const pointer = await ctx.gateway.read([{ key: ctx.keys.token(id) }]);
      const hash = pointer.results[0]?.[0]?.value.toString();
      if (!hash) throw new LeaseholdError('TOKEN_NOT_FOUND', `no API token "${id}"`);
      const { results } = await ctx.gateway.read([{ key: ctx.keys.tokenHash(hash) }]);
      const kv = results[0]?.[0];
      if (!kv) throw new Conflict();
      const token = decodeJson<ApiTokenRecord>(kv);
      if (token.revokedAt !== undefined) return token;
      const revoked = { ...token, revokedAt: now };
      await ctx.commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [
          { put: kv.key, value: JSON.stringify(revoked) },
          ctx.pending(tokenEvent(ctx.actor(audit), 'token.revoked', token, now)),
        ],
      );
      return revoked;
    });
  }
}
