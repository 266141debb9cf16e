import { exportLine } from '@leasehold/domain';
import type { AuditStatus, LeaseStore } from '@leasehold/store';
import { signedAnchor } from './archive-segment.js';

/**
 * The live audit trail as NDJSON lines: the anchor (where the live chain starts), sealed entries in seq
 * order, the signed checkpoints, then pending records (the unsealed tail). Paged, so a long chain never
 * sits in memory whole. Entries sealed while the export runs are included up to the head read first, so
 * the export is one consistent prefix of the chain.
 */
export async function* exportAuditLines(store: LeaseStore, pageSize = 1000): AsyncGenerator<string> {
  // The anchor line carries the checkpoint signed at its seq. An archival between the two reads can
  // move the anchor past the checkpoints read: read again (bounded) until they agree.
  let status: AuditStatus = await store.auditStatus();
  let checkpoints = await store.listAuditCheckpoints();
  for (
    let i = 0;
    i < 3 && status.anchor.seq > 0 && !checkpoints.some((c) => c.seq === status.anchor.seq);
    i++
  ) {
    checkpoints = await store.listAuditCheckpoints();
    status = await store.auditStatus();
  }
  yield exportLine({ type: 'anchor', ...signedAnchor(status.anchor, checkpoints) });
  let after = status.anchor.seq;
  while (after < status.head.seq) {
    const page = await store.auditEntries({
      afterSeq: after,
      limit: Math.min(pageSize, status.head.seq - after),
    });
    if (page.length === 0) break; // archived under us: the anchor line above says where the chain starts
    for (const entry of page) yield exportLine({ type: 'entry', ...entry });
    after = page[page.length - 1]?.seq ?? status.head.seq;
  }
  for (const checkpoint of checkpoints) {
    if (checkpoint.seq <= status.head.seq) yield exportLine({ type: 'checkpoint', ...checkpoint });
  }
  for (const event of await store.pendingAudit(100_000)) yield exportLine({ type: 'pending', ...event });
}
