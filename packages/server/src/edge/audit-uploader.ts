import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type AuditHead, GENESIS_HEAD } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import type { BlockUpstream } from './block-upstream.js';

/** Entries per upload: one request the primary verifies and records before answering. */
const BATCH = 200;

/**
 * Uploads an edge's sealed audit entries to its primary, in order, after the last run the primary
 * accepted (docs/replication.md). The primary recomputes the hash chain from the head it is given and
 * refuses a broken run whole (EDGE_AUDIT_CHAIN_BROKEN), so what it records is exactly the edge's chain.
 * The accepted head is kept in a small file beside the data, written atomically; after a lost file the
 * edge uploads again from the start (duplicates carry their edge seq and hash, so they are plain to see).
 */
export class AuditUploader {
  #head: AuditHead;

  constructor(
    private readonly site: string,
    private readonly store: Pick<LeaseStore, 'auditEntries'>,
    private readonly upstream: BlockUpstream,
    private readonly positionFile: string,
  ) {
    this.#head = readHead(positionFile);
  }

  get head(): AuditHead {
    return this.#head;
  }

  /** Uploads what is sealed and not yet accepted; returns how many entries went up. */
  async uploadOnce(): Promise<number> {
    let sent = 0;
    for (;;) {
      const entries = await this.store.auditEntries({ afterSeq: this.#head.seq, limit: BATCH });
      if (entries.length === 0) return sent;
      this.#head = await this.upstream.uploadAudit(this.site, this.#head, entries);
      const temp = `${this.positionFile}.tmp`;
      writeFileSync(temp, JSON.stringify(this.#head), { mode: 0o600 });
      renameSync(temp, this.positionFile);
      sent += entries.length;
      if (entries.length < BATCH) return sent;
    }
  }
}

function readHead(path: string): AuditHead {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuditHead>;
    if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string')
      return { seq: parsed.seq, hash: parsed.hash };
  } catch {
    // No file yet (or unreadable): start from the beginning of the chain.
  }
  return GENESIS_HEAD;
}
