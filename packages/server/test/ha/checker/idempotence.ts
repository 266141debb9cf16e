import type { Op } from '../history.js';
import type { Violation } from './violation.js';

/** Rule (3), idempotent checkout (checker.ts): one lease per (client, requestId), one request per lease. */
export function checkIdempotence(ops: readonly Op[], violations: Violation[]): void {
  const leasesByRequest = new Map<string, Map<string, Op>>();
  const requestsByLease = new Map<string, Map<string, Op>>();
  for (const op of ops) {
    if (op.kind !== 'checkout' || op.outcome !== 'ok' || op.leaseId === undefined) continue;
    if (op.requestId === undefined) {
      violations.push({ rule: 'malformed', message: 'a checkout without a request id', ops: [op] });
      continue;
    }
    const request = `${op.client}/${op.requestId}`;
    if (op.leaseRequestId !== undefined && op.leaseRequestId !== op.requestId) {
      violations.push({
        rule: 'duplicate-lease',
        message: `checkout ${request} answered lease ${op.leaseId} of request ${op.leaseRequestId}`,
        ops: [op],
      });
    }
    noteFirst(leasesByRequest, request, op.leaseId, op);
    noteFirst(requestsByLease, op.leaseId, request, op);
  }
  reportMany(leasesByRequest, violations, (request, leases) => `request ${request} yielded ${leases} leases`);
  reportMany(
    requestsByLease,
    violations,
    (leaseId, requests) => `lease ${leaseId} answered ${requests} requests`,
  );
}

/** Files `op` under `outer` → `inner`, keeping the first op seen for each pair. */
function noteFirst(index: Map<string, Map<string, Op>>, outer: string, inner: string, op: Op): void {
  const seen = index.get(outer) ?? new Map<string, Op>();
  index.set(outer, seen);
  if (!seen.has(inner)) seen.set(inner, op);
}

/** A duplicate-lease violation for each `outer` filed under more than one `inner`, naming them all. */
function reportMany(
  index: Map<string, Map<string, Op>>,
  violations: Violation[],
  what: (outer: string, count: number) => string,
): void {
  for (const [outer, seen] of index) {
    if (seen.size > 1) {
      violations.push({
        rule: 'duplicate-lease',
        message: `${what(outer, seen.size)}: ${[...seen.keys()].join(', ')}`,
        ops: [...seen.values()],
      });
    }
  }
}
