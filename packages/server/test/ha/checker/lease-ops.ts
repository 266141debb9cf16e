import type { Op } from '../history.js';
import type { Violation } from './violation.js';

/** A lease's operations from the history, by kind: what every rule reads. */
export interface LeaseOps {
  readonly grants: Op[];
  readonly renewals: Op[];
  readonly checkins: Op[];
}

/**
 * Files each op under its lease; reports as `malformed` what the rules cannot read (a 2xx without the
 * fields they need, a lease of another pool than asked for, a pool with no seat count).
 */
export function groupByLease(
  ops: readonly Op[],
  violations: Violation[],
  pools: Readonly<Record<string, number>>,
): Map<string, LeaseOps> {
  const byLease = new Map<string, LeaseOps>();
  const entry = (id: string): LeaseOps => {
    let e = byLease.get(id);
    if (!e) {
      e = { grants: [], renewals: [], checkins: [] };
      byLease.set(id, e);
    }
    return e;
  };
  const unknownPools = new Set<string>();
  for (const op of ops) {
    if (pools[op.pool] === undefined && !unknownPools.has(op.pool)) {
      unknownPools.add(op.pool);
      violations.push({ rule: 'malformed', message: `no seat count for pool ${op.pool}`, ops: [op] });
    }
    if (op.kind === 'checkout') {
      if (op.outcome !== 'ok') continue;
      if (op.leaseId === undefined || op.expiresAt === undefined || op.reservedUntil === undefined) {
        violations.push({
          rule: 'malformed',
          message: 'a successful checkout without id or expiry',
          ops: [op],
        });
        continue;
      }
      if (op.leasePool !== undefined && op.leasePool !== op.pool) {
        violations.push({
          rule: 'malformed',
          message: `checkout for ${op.pool} granted a lease of ${op.leasePool}`,
          ops: [op],
        });
      }
      entry(op.leaseId).grants.push(op);
      continue;
    }
    if (op.leaseId === undefined) {
      violations.push({ rule: 'malformed', message: `a ${op.kind} without a lease id`, ops: [op] });
      continue;
    }
    if (op.outcome === 'ok' && op.answeredId !== undefined && op.answeredId !== op.leaseId) {
      violations.push({
        rule: 'malformed',
        message: `${op.kind} of ${op.leaseId} answered for lease ${op.answeredId}`,
        ops: [op],
      });
    }
    if (op.kind === 'renew') {
      if (op.outcome === 'ok' && (op.expiresAt === undefined || op.reservedUntil === undefined)) {
        violations.push({ rule: 'malformed', message: 'a successful renewal without expiry', ops: [op] });
        continue;
      }
      entry(op.leaseId).renewals.push(op);
    } else {
      entry(op.leaseId).checkins.push(op);
    }
  }
  return byLease;
}
