import type { HistoryData } from '../history.js';
import { groupBy, maxBy } from './collections.js';
import type { Violation } from './violation.js';

/** A lease as `GET /v1/leases?all=true` lists it (the fields the store check needs). */
export interface StoredLease {
  readonly id: string;
  readonly license: string;
  readonly feature: string;
  readonly slot: number;
  readonly client: { readonly id: string };
  readonly requestId: string;
  readonly state: string;
  readonly reservedUntil: string;
}

/**
 * The store's records after the run against the history (no time races here: the records are final):
 * - `duplicate-lease`: two records for one (client, requestId);
 * - `lease-lost`: a lease a client saw granted has no record; a record's `reservedUntil` is earlier than
 *   one a client was acknowledged (reservations only grow, so an acknowledged grant or renewal was not
 *   durable); a record `released` though no check-in of it was ever sent (whatever its outcome);
 * - `malformed`: a record of another pool or slot than the grant said.
 */
export function checkStoreRecords(history: HistoryData, stored: readonly StoredLease[]): Violation[] {
  const violations: Violation[] = [];
  const byRequest = groupBy(stored, (l) => `${l.client.id}/${l.requestId}`);
  for (const [request, leases] of byRequest) {
    if (leases.length > 1) {
      violations.push({
        rule: 'duplicate-lease',
        message: `the store holds ${leases.length} leases for request ${request}: ${leases.map((l) => `${l.id} (${l.state})`).join(', ')}`,
        ops: history.ops.filter((op) => op.kind === 'checkout' && `${op.client}/${op.requestId}` === request),
      });
    }
  }
  const byId = new Map(stored.map((l) => [l.id, l]));
  const checkedIn = new Set(history.ops.filter((op) => op.kind === 'checkin').map((op) => op.leaseId));
  const acknowledged = groupBy(
    history.ops.filter((op) => op.outcome === 'ok' && op.kind !== 'checkin' && op.leaseId !== undefined),
    (op) => op.leaseId ?? '',
  );
  for (const [leaseId, ops] of acknowledged) {
    const record = byId.get(leaseId);
    const grant = ops.find((op) => op.kind === 'checkout');
    if (!record) {
      violations.push({ rule: 'lease-lost', message: `acknowledged lease ${leaseId} has no record`, ops });
      continue;
    }
    if (grant && (`${record.license}/${record.feature}` !== grant.pool || record.slot !== grant.slot)) {
      violations.push({
        rule: 'malformed',
        message: `lease ${leaseId} recorded in ${record.license}/${record.feature} slot ${record.slot}, granted in ${grant.pool} slot ${grant.slot}`,
        ops: [grant],
      });
    }
    const best = maxBy(ops, (op) => op.reservedUntil ?? 0);
    const recorded = Date.parse(record.reservedUntil);
    if (best?.reservedUntil !== undefined && !(recorded >= best.reservedUntil)) {
      violations.push({
        rule: 'lease-lost',
        message: `lease ${leaseId}: the store reserves it until ${recorded}, but a ${best.kind} on ${best.node} acknowledged ${best.reservedUntil}`,
        ops: [best],
      });
    }
  }
  for (const record of stored) {
    if (record.state === 'released' && !checkedIn.has(record.id)) {
      violations.push({
        rule: 'lease-lost',
        message: `lease ${record.id} is recorded released, but no check-in of it was ever sent`,
        ops: acknowledged.get(record.id) ?? [],
      });
    }
  }
  return violations;
}
