import {
  openIdentityKey,
  openSigningKey,
  sealIdentityKey,
  sealSigningKey,
} from '../crypto/sealed-records.js';
import type { StoredSigningKey } from '../port/lease-store.js';
import { type SigningKeyRow, signingKeyFromRow } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';

/** The cluster's lease-token signing keys and identity key in SQLite, private keys sealed under the data key. */
export class SqliteSigningKeys {
  constructor(private readonly ctx: SqliteContext) {}

  /** The stored keys, or `candidate` stored as the first one when there are none. */
  ensure(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      const existing = ctx.sql.listSigningKeys.all() as SigningKeyRow[];
      if (existing.length > 0) return existing.map((row) => this.#open(row));
      ctx.conn.nextRevision();
      const sealed = sealSigningKey(candidate, ctx.cipher);
      ctx.sql.insertSigningKey.run(sealed.kid, sealed.privatePem, sealed.createdAt);
      ctx.changes.signingKey(sealed.kid);
      return [candidate];
    });
  }

  /** Newest first. */
  list(): Promise<StoredSigningKey[]> {
    return this.ctx.conn.read(() =>
      (this.ctx.sql.listSigningKeys.all() as SigningKeyRow[]).map((row) => this.#open(row)),
    );
  }

  /** The cluster identity key, or `candidate` stored as it when there is none. */
  ensureIdentity(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      const row = ctx.sql.getClusterIdentity.get() as SigningKeyRow | undefined;
      if (row) return openIdentityKey(signingKeyFromRow(row), ctx.cipher);
      ctx.conn.nextRevision();
      const sealed = sealIdentityKey(candidate, ctx.cipher);
      ctx.sql.insertClusterIdentity.run(sealed.kid, sealed.privatePem, sealed.createdAt);
      return candidate;
    });
  }

  #open(row: SigningKeyRow): StoredSigningKey {
    return openSigningKey(signingKeyFromRow(row), this.ctx.cipher);
  }
}
