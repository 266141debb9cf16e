import type { InstalledLicense, Lease, LeaseEndReason } from '@leasehold/domain';
import type { ApiTokenRecord, StoredSigningKey, TokenScope } from '../port/lease-store.js';

// Row shapes as better-sqlite3 returns them, and their mapping to domain records.

export interface LicenseRow {
  id: string;
  version: number;
  issuer: string | null;
  customer: string;
  product: string;
  issued_at: number;
  not_before: number;
  expires_at: number;
  lease_ttl_ms: number;
  lease_grace_ms: number;
  lease_policy: 'strict' | 'overdraft';
  signed_by: string;
  raw: string;
  installed_at: number;
  revoked_at: number | null;
}

export interface EntitlementRow {
  license_id: string;
  feature: string;
  seats: number;
}

export interface LeaseRow {
  id: string;
  license_id: string;
  feature: string;
  slot: number;
  fence: number;
  client_id: string;
  client_host: string | null;
  client_user: string | null;
  request_id: string;
  created_at: number;
  renewed_at: number;
  expires_at: number;
  reserved_until: number;
  grace_ms: number;
  revoked_at: number | null;
  ended_at: number | null;
  end_reason: LeaseEndReason | null;
  granted_by: string | null;
}

export interface TokenRow {
  id: string;
  hash: string;
  scope: TokenScope;
  license_id: string | null;
  name: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface SigningKeyRow {
  kid: string;
  private_pem: string;
  created_at: number;
}

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

export function licenseFromRow(row: LicenseRow, entitlements: readonly EntitlementRow[]): InstalledLicense {
  return {
    id: row.id,
    version: row.version,
    issuer: orUndefined(row.issuer),
    customer: row.customer,
    product: row.product,
    entitlements: entitlements.map((e) => ({ feature: e.feature, seats: e.seats })),
    issuedAt: row.issued_at,
    notBefore: row.not_before,
    expiresAt: row.expires_at,
    lease: { ttlMs: row.lease_ttl_ms, graceMs: row.lease_grace_ms, policy: row.lease_policy },
    signedBy: row.signed_by,
    raw: row.raw,
    installedAt: row.installed_at,
    revokedAt: orUndefined(row.revoked_at),
  };
}

export function leaseFromRow(row: LeaseRow): Lease {
  return {
    id: row.id,
    licenseId: row.license_id,
    feature: row.feature,
    slot: row.slot,
    fence: row.fence,
    client: { id: row.client_id, host: orUndefined(row.client_host), user: orUndefined(row.client_user) },
    requestId: row.request_id,
    createdAt: row.created_at,
    renewedAt: row.renewed_at,
    expiresAt: row.expires_at,
    reservedUntil: row.reserved_until,
    graceMs: row.grace_ms,
    revokedAt: orUndefined(row.revoked_at),
    endedAt: orUndefined(row.ended_at),
    endReason: orUndefined(row.end_reason),
    ...(row.granted_by === null ? {} : { grantedBy: row.granted_by }),
  };
}

export function tokenFromRow(row: TokenRow): ApiTokenRecord {
  return {
    id: row.id,
    hash: row.hash,
    scope: row.scope,
    licenseId: orUndefined(row.license_id),
    name: orUndefined(row.name),
    createdAt: row.created_at,
    revokedAt: orUndefined(row.revoked_at),
  };
}

export function signingKeyFromRow(row: SigningKeyRow): StoredSigningKey {
  return { kid: row.kid, privatePem: row.private_pem, createdAt: row.created_at };
}

export function rowOfLease(lease: Lease): LeaseRow {
  return {
    id: lease.id,
    license_id: lease.licenseId,
    feature: lease.feature,
    slot: lease.slot,
    fence: lease.fence,
    client_id: lease.client.id,
    client_host: lease.client.host ?? null,
    client_user: lease.client.user ?? null,
    request_id: lease.requestId,
    created_at: lease.createdAt,
    renewed_at: lease.renewedAt,
    expires_at: lease.expiresAt,
    reserved_until: lease.reservedUntil,
    grace_ms: lease.graceMs,
    revoked_at: lease.revokedAt ?? null,
    ended_at: lease.endedAt ?? null,
    end_reason: lease.endReason ?? null,
    granted_by: lease.grantedBy ?? null,
  };
}

export function rowOfToken(record: ApiTokenRecord): TokenRow {
  return {
    id: record.id,
    hash: record.hash,
    scope: record.scope,
    license_id: record.licenseId ?? null,
    name: record.name ?? null,
    created_at: record.createdAt,
    revoked_at: record.revokedAt ?? null,
  };
}
