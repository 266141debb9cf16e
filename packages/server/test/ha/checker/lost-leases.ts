import { maxBy } from './collections.js';
import type { LeaseOps } from './lease-ops.js';
import type { Violation } from './violation.js';

// Rule (2), no acknowledged lease lost while its client kept renewing (checker.ts).

const LOST_CODES = new Set(['LEASE_EXPIRED', 'LEASE_NOT_FOUND', 'LEASE_RELEASED']);

export function checkLostLeases(
  byLease: ReadonlyMap<string, LeaseOps>,
  violations: Violation[],
  toleranceMs: number,
): void {
  for (const [leaseId, { grants, renewals, checkins }] of byLease) {
    const successes = [...grants, ...renewals.filter((op) => op.outcome === 'ok')];
    for (const op of [...renewals, ...checkins]) {
      const refused = op.outcome === 'fail' && op.code !== undefined && LOST_CODES.has(op.code);
      const endedEarly = op.kind === 'checkin' && op.outcome === 'ok' && op.state === 'expired';
      if (!refused && !endedEarly) continue;
      // A check-in sent before this answer may explain it (released, or a renewal racing a check-in).
      const checkedIn = checkins.some((c) => c !== op && c.call < op.ret);
      if (checkedIn) continue;
      const what = refused ? `${op.kind} answered ${op.code}` : 'check-in found it expired';
      if (op.code === 'LEASE_RELEASED') {
        violations.push({
          rule: 'lease-lost',
          message: `lease ${leaseId}: ${what} though no check-in was ever sent for it`,
          ops: [...successes.filter((s) => s.ret <= op.call).slice(-2), op],
        });
        continue;
      }
      const known = maxBy(
        successes.filter((s) => s.ret <= op.call),
        (s) => s.expiresAt ?? 0,
      );
      if (known?.expiresAt !== undefined && known.expiresAt - toleranceMs > op.ret) {
        violations.push({
          rule: 'lease-lost',
          message:
            `lease ${leaseId}: ${what} at [${op.call},${op.ret}] on ${op.node} although it was renewed ` +
            `until ${known.expiresAt} (${known.expiresAt - op.ret} ms later)`,
          ops: [known, op],
        });
      }
    }
  }
}
