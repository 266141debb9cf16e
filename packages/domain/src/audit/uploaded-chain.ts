import { LeaseholdError } from '../errors/leasehold-error.js';
import type { AuditEntry, AuditEvent, AuditHead } from './audit-event.js';
import { entryHash, eventOf } from './chain.js';

/**
 * Checks a run of sealed entries an edge site uploads (docs/replication.md): each one's hash recomputed
 * from its fields, each linked to the one before, the first to `previous` (the head of the site's last
 * accepted upload). Returns the new head; throws EDGE_AUDIT_CHAIN_BROKEN naming the first bad seq.
 */
export function verifyUploadedChain(previous: AuditHead, entries: readonly AuditEntry[]): AuditHead {
  let head = previous;
  for (const entry of entries) {
    const broken = (why: string) =>
      new LeaseholdError('EDGE_AUDIT_CHAIN_BROKEN', `entry ${entry.seq}: ${why}`, { seq: entry.seq });
    if (entry.seq !== head.seq + 1) throw broken(`expected seq ${head.seq + 1}`);
    if (entry.prevHash !== head.hash) throw broken('prevHash does not match the entry before');
    if (entryHash(entry.prevHash, entry.seq, eventOf(entry)) !== entry.hash) throw broken('hash mismatch');
    head = { seq: entry.seq, hash: entry.hash };
  }
  return head;
}

/**
 * The event the primary records for one uploaded edge entry: the edge's actor, subject, time and node as
 * they were, its action and chain position in `details`, so an auditor can recompute the edge's chain from
 * the primary's own trail.
 */
export function edgeEventOf(site: string, entry: AuditEntry): AuditEvent {
  return {
    action: 'edge.event',
    actor: entry.actor,
    subject: entry.subject,
    time: entry.time,
    node: entry.node,
    details: { ...entry.details, site, edgeAction: entry.action, edgeSeq: entry.seq, edgeHash: entry.hash },
  };
}
