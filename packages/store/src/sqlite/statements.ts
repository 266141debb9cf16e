import type Database from 'better-sqlite3';

/** Every statement the SQLite backend runs, by name; prepared once at open. */
export const SQL = {
  ping: 'SELECT 1',
  licenseRevision: "SELECT value FROM meta WHERE key = 'license_revision'",
  bumpLicenseRevision: "UPDATE meta SET value = value + 1 WHERE key = 'license_revision'",
  bumpRevision: "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value",

  allLicenses: 'SELECT * FROM licenses ORDER BY id',
  allEntitlements: 'SELECT * FROM entitlements ORDER BY license_id, feature',
  upsertLicense: `
      INSERT INTO licenses (id, version, issuer, customer, product, issued_at, not_before, expires_at,
        lease_ttl_ms, lease_grace_ms, lease_policy, signed_by, raw, installed_at, revoked_at)
      VALUES (@id, @version, @issuer, @customer, @product, @issued_at, @not_before, @expires_at,
        @lease_ttl_ms, @lease_grace_ms, @lease_policy, @signed_by, @raw, @installed_at, NULL)
      ON CONFLICT (id) DO UPDATE SET version = excluded.version, issuer = excluded.issuer,
        customer = excluded.customer, product = excluded.product, issued_at = excluded.issued_at,
        not_before = excluded.not_before, expires_at = excluded.expires_at,
        lease_ttl_ms = excluded.lease_ttl_ms, lease_grace_ms = excluded.lease_grace_ms,
        lease_policy = excluded.lease_policy, signed_by = excluded.signed_by, raw = excluded.raw,
        installed_at = excluded.installed_at, revoked_at = NULL`,
  deleteEntitlements: 'DELETE FROM entitlements WHERE license_id = ?',
  insertEntitlement: 'INSERT INTO entitlements (license_id, feature, seats) VALUES (?, ?, ?)',
  revokeLicense: 'UPDATE licenses SET revoked_at = ? WHERE id = ?',

  getLease: 'SELECT * FROM leases WHERE id = ?',
  leasesByRequest: `
      SELECT * FROM leases
      WHERE client_id = @client_id AND request_id = @request_id
        AND (@license_id IS NULL OR license_id = @license_id)
      ORDER BY created_at, id`,
  ensurePool: 'INSERT OR IGNORE INTO pools (license_id, feature) VALUES (?, ?)',
  getPool: 'SELECT live, high_water FROM pools WHERE license_id = ? AND feature = ?',
  takeSlotFromPool:
    'UPDATE pools SET live = live + 1, high_water = max(high_water, @slot + 1) WHERE license_id = @license_id AND feature = @feature',
  returnSlotToPool: 'UPDATE pools SET live = live - 1 WHERE license_id = ? AND feature = ?',
  lowestFreeSlot:
    'SELECT slot FROM free_slots WHERE license_id = ? AND feature = ? AND slot < ? ORDER BY slot LIMIT 1',
  removeFreeSlot: 'DELETE FROM free_slots WHERE license_id = ? AND feature = ? AND slot = ?',
  addFreeSlot: 'INSERT OR IGNORE INTO free_slots (license_id, feature, slot) VALUES (?, ?, ?)',
  overdueInPool: `
    SELECT * FROM leases
    WHERE license_id = ? AND feature = ? AND ended_at IS NULL AND reserved_until <= ?`,
  insertLease: `
      INSERT INTO leases (id, license_id, feature, slot, fence, client_id, client_host, client_user,
        request_id, created_at, renewed_at, expires_at, reserved_until, grace_ms, revoked_at, ended_at, end_reason,
          granted_by)
      VALUES (@id, @license_id, @feature, @slot, @fence, @client_id, @client_host, @client_user,
        @request_id, @created_at, @renewed_at, @expires_at, @reserved_until, @grace_ms, @revoked_at,
        @ended_at, @end_reason, @granted_by)`,
  renewLease:
    'UPDATE leases SET renewed_at = ?, expires_at = ?, reserved_until = ?, grace_ms = ? WHERE id = ?',
  endLease: 'UPDATE leases SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL',
  revokeLease: 'UPDATE leases SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?',
  // Live leases along the partial deadline index (the sweeper's, leases_live_deadline), from a cursor.
  listLiveLeases: `
      SELECT * FROM leases
      WHERE ended_at IS NULL AND reserved_until > @now
        AND (reserved_until, id) > (@after_deadline, @after_id)
        AND (@license_id IS NULL OR license_id = @license_id)
        AND (@feature IS NULL OR feature = @feature)
      ORDER BY reserved_until, id
      LIMIT @limit`,
  listAllLeases: `
      SELECT * FROM leases
      WHERE id > @after_id
        AND (@license_id IS NULL OR license_id = @license_id)
        AND (@feature IS NULL OR feature = @feature)
      ORDER BY id
      LIMIT @limit`,
  inUseByPool: `
      SELECT license_id, feature, count(*) AS in_use FROM leases
      WHERE ended_at IS NULL AND reserved_until > ?
      GROUP BY license_id, feature`,
  overdueLeases:
    'SELECT * FROM leases WHERE ended_at IS NULL AND reserved_until <= ? ORDER BY reserved_until LIMIT ?',
  purgeEnded: 'DELETE FROM leases WHERE ended_at IS NOT NULL AND ended_at < ?',
  endedBefore: 'SELECT id FROM leases WHERE ended_at IS NOT NULL AND ended_at < ?',

  listSigningKeys: 'SELECT * FROM signing_keys ORDER BY created_at DESC, kid',
  insertSigningKey: 'INSERT INTO signing_keys (kid, private_pem, created_at) VALUES (?, ?, ?)',
  getClusterIdentity: 'SELECT kid, private_pem, created_at FROM cluster_identity WHERE id = 1',
  insertClusterIdentity:
    'INSERT INTO cluster_identity (id, kid, private_pem, created_at) VALUES (1, ?, ?, ?)',

  insertToken: `
      INSERT INTO api_tokens (id, hash, scope, license_id, name, created_at, revoked_at)
      VALUES (@id, @hash, @scope, @license_id, @name, @created_at, @revoked_at)`,
  findTokenByHash: 'SELECT * FROM api_tokens WHERE hash = ?',
  getToken: 'SELECT * FROM api_tokens WHERE id = ?',
  listTokens: 'SELECT * FROM api_tokens ORDER BY created_at, id',
  revokeToken: 'UPDATE api_tokens SET revoked_at = ? WHERE id = ?',
  revokeNamedTokensExcept:
    'UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND hash != ? AND revoked_at IS NULL',
  deleteToken: 'DELETE FROM api_tokens WHERE id = ?',

  getDataKey: 'SELECT record FROM data_keys ORDER BY id LIMIT 1',
  insertDataKey: 'INSERT INTO data_keys (id, record) VALUES (?, ?)',
  updateDataKey: 'UPDATE data_keys SET record = ? WHERE id = ?',
  sealLicenseSecrets: 'UPDATE licenses SET raw = ?, customer = ? WHERE id = ?',
  sealSigningKey: 'UPDATE signing_keys SET private_pem = ? WHERE kid = ?',
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: Database.Statement };

export function prepareStatements(db: Database.Database): Statements {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Statements;
}
