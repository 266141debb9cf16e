import { type AuditContext, LeaseholdError, tokenEvent } from '@leasehold/domain';
import type { ApiTokenRecord } from '../port/lease-store.js';
import { rowOfToken, type TokenRow, tokenFromRow } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';

/** API tokens in SQLite, one row each, found by the hash of the secret. */
export class SqliteTokens {
  constructor(private readonly ctx: SqliteContext) {}

  create(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      ctx.conn.nextRevision();
      ctx.sql.insertToken.run(rowOfToken(record));
      ctx.changes.token(record.hash);
      ctx.record(tokenEvent(ctx.actor(audit), 'token.created', record, record.createdAt));
      return record;
    });
  }

  replaceNamed(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    const { ctx } = this;
    const { sql } = ctx;
    const actor = ctx.actor(audit);
    return ctx.conn.write(() => {
      ctx.conn.nextRevision();
      const revoked: string[] = [];
      for (const row of sql.listTokens.all() as TokenRow[]) {
        if (row.name === record.name && row.hash !== record.hash && row.revoked_at === null) {
          ctx.record(tokenEvent(actor, 'token.revoked', tokenFromRow(row), record.createdAt));
          revoked.push(row.hash);
        }
      }
      sql.revokeNamedTokensExcept.run(record.createdAt, record.name, record.hash);
      for (const hash of revoked) ctx.changes.token(hash);
      const existing = sql.findTokenByHash.get(record.hash) as TokenRow | undefined;
      if (existing && existing.revoked_at === null) return tokenFromRow(existing);
      if (existing) sql.deleteToken.run(existing.id);
      sql.insertToken.run(rowOfToken(record));
      ctx.changes.token(record.hash);
      ctx.record(tokenEvent(actor, 'token.created', record, record.createdAt));
      return record;
    });
  }

  findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    // An authentication lookup (see readForDecision): it answers no client with the record itself.
    return this.ctx.conn.readForDecision(() => {
      const row = this.ctx.sql.findTokenByHash.get(hash) as TokenRow | undefined;
      return row && tokenFromRow(row);
    });
  }

  list(): Promise<ApiTokenRecord[]> {
    return this.ctx.conn.read(() => (this.ctx.sql.listTokens.all() as TokenRow[]).map(tokenFromRow));
  }

  revoke(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      const row = ctx.sql.getToken.get(id) as TokenRow | undefined;
      if (!row) throw new LeaseholdError('TOKEN_NOT_FOUND', `no API token "${id}"`);
      if (row.revoked_at !== null) return tokenFromRow(row);
      ctx.conn.nextRevision();
      ctx.sql.revokeToken.run(now, id);
      ctx.changes.token(row.hash);
      ctx.record(tokenEvent(ctx.actor(audit), 'token.revoked', tokenFromRow(row), now));
      return tokenFromRow({ ...row, revoked_at: now });
    });
  }
}
