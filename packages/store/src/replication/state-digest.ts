import { createHash } from 'node:crypto';
import { canonicalJson } from '@leasehold/domain';
import type { ReplicatedRecord } from '../port/replication-feed.js';

/**
 * The replicated part of a record, field by field: what every backend stores and a replica copies. An
 * etcd record may carry more (whatever the license object held when it was installed); the projection
 * keeps the comparison to what replication promises to copy.
 */
export function canonicalRecord(record: ReplicatedRecord): unknown {
  switch (record.kind) {
    case 'license': {
      const l = record.value;
      return {
        id: l.id,
        version: l.version,
        issuer: l.issuer,
        customer: l.customer,
        product: l.product,
        entitlements: [...l.entitlements]
          .map((e) => ({ feature: e.feature, seats: e.seats }))
          .sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0)),
        issuedAt: l.issuedAt,
        notBefore: l.notBefore,
        expiresAt: l.expiresAt,
        lease: { ttlMs: l.lease.ttlMs, graceMs: l.lease.graceMs, policy: l.lease.policy },
        signedBy: l.signedBy,
        raw: l.raw,
        installedAt: l.installedAt,
        revokedAt: l.revokedAt,
      };
    }
    case 'token': {
      const t = record.value;
      return {
        id: t.id,
        hash: t.hash,
        scope: t.scope,
        licenseId: t.licenseId,
        name: t.name,
        createdAt: t.createdAt,
        revokedAt: t.revokedAt,
      };
    }
    case 'signing-key': {
      const k = record.value;
      return { kid: k.kid, privatePem: k.privatePem, createdAt: k.createdAt };
    }
    case 'lease': {
      const l = record.value;
      return {
        id: l.id,
        licenseId: l.licenseId,
        feature: l.feature,
        slot: l.slot,
        fence: l.fence,
        client: { id: l.client.id, host: l.client.host, user: l.client.user },
        requestId: l.requestId,
        createdAt: l.createdAt,
        renewedAt: l.renewedAt,
        expiresAt: l.expiresAt,
        reservedUntil: l.reservedUntil,
        graceMs: l.graceMs,
        revokedAt: l.revokedAt,
        endedAt: l.endedAt,
        endReason: l.endReason,
      };
    }
    case 'checkpoint': {
      const c = record.value;
      return { seq: c.seq, hash: c.hash, time: c.time, node: c.node, jws: c.jws };
    }
  }
}

export interface StateDigest {
  /** SHA-256 (hex) over every record's canonical JSON, in (kind, id) order. */
  readonly digest: string;
  /** How many records of each kind went into it. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * A digest of replicated state that two stores share exactly when they hold the same records: the
 * primary's snapshot and a replica's state at the same revision must digest alike (issue 12's check).
 */
export function stateDigest(records: readonly ReplicatedRecord[]): StateDigest {
  const lines = records.map((r) => `${r.kind}\u0000${r.id}\u0000${canonicalJson(canonicalRecord(r))}`);
  lines.sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line).update('\n');
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  return { digest: hash.digest('hex'), counts };
}
