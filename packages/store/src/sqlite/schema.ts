import { AUDIT_MIGRATION } from './sqlite-audit.js';
import { CHANGE_LOG_MIGRATION } from './sqlite-change-log.js';
import { EPOCH_MIGRATION } from './sqlite-epoch.js';

/**
 * SQLite schema, versioned with `PRAGMA user_version`. Each entry migrates from the previous version;
 * sqlite-connection.ts runs the missing ones inside one write transaction and refuses a newer file.
 *
 * Seats are slots, as in the etcd design: the partial unique index on (license, feature, slot) over live
 * rows makes a double grant of one slot impossible even if the acquire logic were wrong.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  INSERT INTO meta (key, value) VALUES ('revision', 0), ('license_revision', 0);

  CREATE TABLE licenses (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    issuer TEXT,
    customer TEXT NOT NULL,
    product TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    lease_ttl_ms INTEGER NOT NULL,
    lease_grace_ms INTEGER NOT NULL,
    lease_policy TEXT NOT NULL CHECK (lease_policy IN ('strict', 'overdraft')),
    signed_by TEXT NOT NULL,
    raw TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;

  CREATE TABLE entitlements (
    license_id TEXT NOT NULL REFERENCES licenses(id) ON DELETE CASCADE,
    feature TEXT NOT NULL,
    seats INTEGER NOT NULL CHECK (seats > 0),
    PRIMARY KEY (license_id, feature)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX entitlements_feature ON entitlements(feature);

  CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    license_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    slot INTEGER NOT NULL CHECK (slot >= 0),
    fence INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    client_host TEXT,
    client_user TEXT,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    renewed_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    reserved_until INTEGER NOT NULL CHECK (reserved_until >= expires_at),
    grace_ms INTEGER NOT NULL,
    revoked_at INTEGER,
    ended_at INTEGER,
    end_reason TEXT CHECK (end_reason IN ('released', 'expired', 'revoked'))
  ) STRICT;
  CREATE UNIQUE INDEX leases_request ON leases(client_id, request_id);
  CREATE UNIQUE INDEX leases_live_slot ON leases(license_id, feature, slot) WHERE ended_at IS NULL;
  CREATE INDEX leases_live_deadline ON leases(reserved_until) WHERE ended_at IS NULL;
  CREATE INDEX leases_pool_deadline ON leases(license_id, feature, reserved_until) WHERE ended_at IS NULL;

  -- Seat pools, kept in step with leases inside every transaction that starts or ends one, so a checkout
  -- finds a slot in O(log n) instead of reading every live lease of its pool (measured: 10,000 live
  -- leases made that scan the main cost of a checkout). "live" counts leases not yet ended, including
  -- overdue ones that a checkout ends lazily when the pool looks full.
  CREATE TABLE pools (
    license_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 0 CHECK (live >= 0),
    high_water INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (license_id, feature)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE free_slots (
    license_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    slot INTEGER NOT NULL,
    PRIMARY KEY (license_id, feature, slot)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX leases_ended ON leases(ended_at) WHERE ended_at IS NOT NULL;

  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'client')),
    license_id TEXT,
    name TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  `,
  // 2: encryption at rest and the operator scope. The data key, wrapped under the key-encryption key
  // (packages/store/src/crypto/); one row. api_tokens is rebuilt because SQLite cannot alter a CHECK.
  `
  CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
  ) STRICT;

  CREATE TABLE api_tokens_v2 (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'operator', 'client')),
    license_id TEXT,
    name TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  INSERT INTO api_tokens_v2 SELECT id, hash, scope, license_id, name, created_at, revoked_at FROM api_tokens;
  DROP TABLE api_tokens;
  ALTER TABLE api_tokens_v2 RENAME TO api_tokens;
  `,
  // 3: the audit trail (sqlite-audit.ts, docs/audit.md).
  AUDIT_MIGRATION,
  // 4: the change feed's table and a replica's position (sqlite-change-log.ts, docs/replication.md).
  CHANGE_LOG_MIGRATION,
  // 5: idempotency keys per license (issue 11): (client id, request id) is unique within a license, so a
  // request id used under one license is new to another and a conflict reveals nothing of other licenses.
  // The column order also serves a checkout that names no license (an admin's): client and request first.
  `
  DROP INDEX leases_request;
  CREATE UNIQUE INDEX leases_request ON leases(client_id, request_id, license_id);
  `,
  // 6: the cluster identity key (issue 11): one row, never replaced; its private key sealed like a signing key's.
  `
  CREATE TABLE cluster_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    kid TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 7: the node that granted each lease, for operators (`leasehold leases list`); NULL on older rows.
  'ALTER TABLE leases ADD COLUMN granted_by TEXT;',
  // 8: the fencing epoch (docs/replication.md, "Promotion"): one row, absent at epoch 1.
  EPOCH_MIGRATION,
];

/** The newest schema this release understands and writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;
