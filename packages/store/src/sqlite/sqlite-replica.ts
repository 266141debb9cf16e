import type Database from 'better-sqlite3';
import { sealLicense, sealSigningKey } from '../crypto/sealed-records.js';
import type { ApplyResult, ReplicaPosition, ReplicaTarget } from '../port/replica-target.js';
import type {
  Change,
  ReplicatedKind,
  ReplicatedRecord,
  ReplicationSnapshot,
} from '../port/replication-feed.js';
import { rowOfLease, rowOfToken } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';

const REPLICA_SQL = {
  meta: "SELECT key, value FROM meta WHERE key IN ('replica_position', 'replica_head', 'replica_head_at')",
  setMeta: 'UPDATE meta SET value = ? WHERE key = ?',
  raiseRevision: "UPDATE meta SET value = max(value, ?) WHERE key = 'revision'",
  bumpLicenseRevision: "UPDATE meta SET value = value + 1 WHERE key = 'license_revision'",
  deleteLicense: 'DELETE FROM licenses WHERE id = ?',
  deleteLease: 'DELETE FROM leases WHERE id = ?',
  upsertLease: `
        INSERT INTO leases (id, license_id, feature, slot, fence, client_id, client_host, client_user,
          request_id, created_at, renewed_at, expires_at, reserved_until, grace_ms, revoked_at, ended_at, end_reason,
          granted_by)
        VALUES (@id, @license_id, @feature, @slot, @fence, @client_id, @client_host, @client_user,
          @request_id, @created_at, @renewed_at, @expires_at, @reserved_until, @grace_ms, @revoked_at,
          @ended_at, @end_reason, @granted_by)
        ON CONFLICT (id) DO UPDATE SET license_id = excluded.license_id, feature = excluded.feature,
          slot = excluded.slot, fence = excluded.fence, client_id = excluded.client_id,
          client_host = excluded.client_host, client_user = excluded.client_user,
          request_id = excluded.request_id, created_at = excluded.created_at,
          renewed_at = excluded.renewed_at, expires_at = excluded.expires_at, granted_by = excluded.granted_by,
          reserved_until = excluded.reserved_until, grace_ms = excluded.grace_ms,
          revoked_at = excluded.revoked_at, ended_at = excluded.ended_at, end_reason = excluded.end_reason`,
  deleteTokenByHash: 'DELETE FROM api_tokens WHERE hash = ?',
  deleteTokenById: 'DELETE FROM api_tokens WHERE id = ?',
  deleteSigningKey: 'DELETE FROM signing_keys WHERE kid = ?',
  upsertSigningKey:
    'INSERT INTO signing_keys (kid, private_pem, created_at) VALUES (?, ?, ?) ON CONFLICT (kid) DO UPDATE SET private_pem = excluded.private_pem, created_at = excluded.created_at',
  deleteCheckpoint: 'DELETE FROM audit_checkpoints WHERE seq = ?',
  upsertCheckpoint:
    'INSERT OR REPLACE INTO audit_checkpoints (seq, hash, time, node, jws) VALUES (?, ?, ?, ?, ?)',
} as const;

type ReplicaStatements = { readonly [K in keyof typeof REPLICA_SQL]: Database.Statement };

/**
 * The embedded store as a replica of another store's feed (docs/replication.md). Records are written as
 * the primary had them (ids, fences, times), sealed under this store's own data key; the position, the
 * primary's head and the apply time go into `meta` in the same transaction. The store's own revision is
 * kept at least at the position, so that a promoted replica's fences continue above the primary's.
 *
 * Seat pools (`pools`, `free_slots`) are not kept while following: they serve checkouts, which a replica
 * does not take; they are rebuilt from the leases when a replica is promoted.
 */
export class SqliteReplica implements ReplicaTarget {
  readonly #s: ReplicaStatements;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx.conn;
    this.#s = Object.fromEntries(
      Object.entries(REPLICA_SQL).map(([name, sql]) => [name, db.prepare(sql)]),
    ) as ReplicaStatements;
  }

  replicaPosition(): Promise<ReplicaPosition> {
    return this.ctx.conn.read(() => this.#position());
  }

  #position(): ReplicaPosition {
    const rows = this.#s.meta.all() as { key: string; value: number }[];
    const get = (key: string) => rows.find((r) => r.key === key)?.value ?? -1;
    return {
      position: get('replica_position'),
      head: get('replica_head'),
      appliedAt: get('replica_head_at'),
    };
  }

  applyChanges(
    changes: readonly Change[],
    page: { readonly through: number; readonly head: number; readonly epoch?: number | undefined },
    now: number,
  ): Promise<ApplyResult> {
    return this.ctx.conn.write(() => {
      if (page.epoch !== undefined) this.ctx.epochs.follow(page.epoch);
      const { position } = this.#position();
      let applied = 0;
      let skipped = 0;
      for (const change of changes) {
        // At or below the committed position: this page (or part of it) was applied before a restart.
        if (change.rev <= position) skipped++;
      }
      for (const change of inApplyOrder(changes.filter((c) => c.rev > position))) {
        if (change.op === 'put') this.#put(change.record);
        else this.#delete(change.kind, change.id);
        applied++;
      }
      const through = Math.max(position, page.through);
      this.#commitPosition(through, Math.max(page.head, through), now);
      return { applied, skipped, position: through };
    });
  }

  replaceState(snapshot: ReplicationSnapshot, now: number): Promise<ApplyResult> {
    return this.ctx.conn.write(() => {
      const { db } = this.ctx.conn;
      // Deletes included: whatever the snapshot does not hold is gone on the primary.
      db.exec(`
        DELETE FROM entitlements; DELETE FROM licenses; DELETE FROM leases; DELETE FROM pools;
        DELETE FROM free_slots; DELETE FROM api_tokens; DELETE FROM signing_keys; DELETE FROM audit_checkpoints;`);
      for (const record of snapshot.records) this.#put(record);
      if (snapshot.epoch !== undefined) this.ctx.epochs.follow(snapshot.epoch);
      this.#s.bumpLicenseRevision.run();
      this.#commitPosition(snapshot.revision, snapshot.revision, now);
      return { applied: snapshot.records.length, skipped: 0, position: snapshot.revision };
    });
  }

  #commitPosition(position: number, head: number, now: number): void {
    this.#s.setMeta.run(1, 'pools_stale');
    this.#s.setMeta.run(position, 'replica_position');
    this.#s.setMeta.run(head, 'replica_head');
    this.#s.setMeta.run(now, 'replica_head_at');
    this.#s.raiseRevision.run(position);
  }

  /**
   * Makes a store that followed a primary usable as one (started without `--replica-of`): rebuilds the
   * seat pools from the leases, and starts its own feed's history at its current revision (the changes
   * it applied were never in its change table). Runs at open, inside one transaction; a no-op unless
   * the store applied changes since it last served as a primary.
   */
  takeOverIfFollowed(): boolean {
    const { db } = this.ctx.conn;
    return db.transaction(() => this.takeOver()).immediate();
  }

  /** `takeOverIfFollowed` inside the caller's write transaction (promotion: with the epoch's move). */
  takeOver(): boolean {
    const { db } = this.ctx.conn;
    const stale = db.prepare("SELECT value FROM meta WHERE key = 'pools_stale'").get() as
      | { value: number }
      | undefined;
    if (!stale || stale.value === 0) return false;
    db.exec('DELETE FROM pools; DELETE FROM free_slots;');
    const rows = db
      .prepare('SELECT license_id, feature, slot, ended_at FROM leases ORDER BY license_id, feature, slot')
      .all() as { license_id: string; feature: string; slot: number; ended_at: number | null }[];
    const pools = new Map<string, { licenseId: string; feature: string; live: Set<number>; high: number }>();
    for (const r of rows) {
      const key = `${r.license_id}\u0000${r.feature}`;
      const pool = pools.get(key) ?? {
        licenseId: r.license_id,
        feature: r.feature,
        live: new Set(),
        high: 0,
      };
      pool.high = Math.max(pool.high, r.slot + 1);
      if (r.ended_at === null) pool.live.add(r.slot);
      pools.set(key, pool);
    }
    const insertPool = db.prepare(
      'INSERT INTO pools (license_id, feature, live, high_water) VALUES (?, ?, ?, ?)',
    );
    for (const pool of pools.values()) {
      insertPool.run(pool.licenseId, pool.feature, pool.live.size, pool.high);
      for (let slot = 0; slot < pool.high; slot++) {
        if (!pool.live.has(slot)) this.ctx.sql.addFreeSlot.run(pool.licenseId, pool.feature, slot);
      }
    }
    db.exec(`
      UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'revision') WHERE key = 'feed_oldest';
      UPDATE meta SET value = 0 WHERE key = 'pools_stale';`);
    this.#s.bumpLicenseRevision.run();
    return true;
  }

  #put(record: ReplicatedRecord): void {
    const { sql, cipher } = this.ctx;
    switch (record.kind) {
      case 'license': {
        const l = sealLicense(record.value, cipher);
        sql.upsertLicense.run({
          id: l.id,
          version: l.version,
          issuer: l.issuer ?? null,
          customer: l.customer,
          product: l.product,
          issued_at: l.issuedAt,
          not_before: l.notBefore,
          expires_at: l.expiresAt,
          lease_ttl_ms: l.lease.ttlMs,
          lease_grace_ms: l.lease.graceMs,
          lease_policy: l.lease.policy,
          signed_by: l.signedBy,
          raw: l.raw,
          installed_at: l.installedAt,
        });
        // The upsert clears revoked_at (an install does); the record says what it is.
        if (l.revokedAt !== undefined) sql.revokeLicense.run(l.revokedAt, l.id);
        sql.deleteEntitlements.run(l.id);
        for (const e of l.entitlements) sql.insertEntitlement.run(l.id, e.feature, e.seats);
        this.#s.bumpLicenseRevision.run();
        return;
      }
      case 'token': {
        // By hash: a token re-created under its old secret has a new id (replaceNamedToken).
        this.#s.deleteTokenByHash.run(record.value.hash);
        this.#s.deleteTokenById.run(record.value.id);
        sql.insertToken.run(rowOfToken(record.value));
        return;
      }
      case 'signing-key': {
        const k = sealSigningKey(record.value, cipher);
        this.#s.upsertSigningKey.run(k.kid, k.privatePem, k.createdAt);
        return;
      }
      case 'lease':
        this.#s.upsertLease.run(rowOfLease(record.value));
        return;
      case 'checkpoint': {
        const c = record.value;
        this.#s.upsertCheckpoint.run(c.seq, c.hash, c.time, c.node, c.jws);
        return;
      }
    }
  }

  #delete(kind: ReplicatedKind, id: string): void {
    switch (kind) {
      case 'license':
        this.#s.deleteLicense.run(id);
        this.#s.bumpLicenseRevision.run();
        return;
      case 'token':
        this.#s.deleteTokenByHash.run(id);
        return;
      case 'signing-key':
        this.#s.deleteSigningKey.run(id);
        return;
      case 'lease':
        this.#s.deleteLease.run(id);
        return;
      case 'checkpoint':
        this.#s.deleteCheckpoint.run(Number(id));
        return;
    }
  }
}

/**
 * The changes of each revision in an order this store's constraints accept. A revision is atomic on the
 * primary, so only its end state matters: the last change of each record stands for it, and within the
 * revision deletions go first, then leases that ended, then the rest. Without that, a checkout that took
 * over an expired lease's slot (etcd writes the new lease before the old one's end, in one transaction)
 * would briefly hold one slot twice here, which the live-slot unique index refuses.
 */
export function inApplyOrder(changes: readonly Change[]): Change[] {
  const out: Change[] = [];
  for (let i = 0; i < changes.length; ) {
    const rev = changes[i]?.rev;
    const last = new Map<string, Change>();
    for (; i < changes.length && changes[i]?.rev === rev; i++) {
      const c = changes[i] as Change;
      const key = c.op === 'put' ? `${c.record.kind}\u0000${c.record.id}` : `${c.kind}\u0000${c.id}`;
      last.delete(key);
      last.set(key, c);
    }
    const rank = (c: Change) =>
      c.op === 'delete' ? 0 : c.record.kind === 'lease' && c.record.value.endedAt !== undefined ? 1 : 2;
    out.push(...[...last.values()].sort((a, b) => rank(a) - rank(b)));
  }
  return out;
}
