import { createHash } from 'node:crypto';
import type { AuditEntry, AuditEvent, AuditHead } from './audit-event.js';
import { canonicalJson } from './canonical-json.js';

/** prevHash of entry 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain's starting point: no entries, genesis hash. */
export const GENESIS_HEAD: AuditHead = { seq: 0, hash: GENESIS_HASH };

/** The event fields an entry's hash covers (everything but the hashes themselves). */
export function eventOf(entry: AuditEvent): AuditEvent {
  const { action, actor, subject, time, node, details } = entry;
  return details === undefined
    ? { action, actor, subject, time, node }
    : { action, actor, subject, time, node, details };
}

/**
 * hash = SHA-256(prevHash || JCS(event + seq)), hex. The seq is inside the hash so that an entry moved to
 * another place fails its own hash; prevHash links each entry to the one before, so removing or reordering
 * entries breaks the link even when every entry is intact.
 */
export function entryHash(prevHash: string, seq: number, event: AuditEvent): string {
  return createHash('sha256')
    .update(prevHash)
    .update(canonicalJson({ ...eventOf(event), seq }))
    .digest('hex');
}

/** Appends `events` after `head`, in order; returns the new entries (the last is the new head). */
export function sealEvents(head: AuditHead, events: readonly AuditEvent[]): AuditEntry[] {
  let prevHash = head.hash;
  let seq = head.seq;
  return events.map((event) => {
    seq += 1;
    const hash = entryHash(prevHash, seq, event);
    const entry: AuditEntry = { ...eventOf(event), seq, prevHash, hash };
    prevHash = hash;
    return entry;
  });
}
