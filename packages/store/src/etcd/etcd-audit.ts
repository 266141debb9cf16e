import {
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  canonicalJson,
  GENESIS_HEAD,
  type StoredCheckpoint,
  sealEvents,
} from '@leasehold/domain';
import type { AuditQuery, AuditSealResult, AuditStatus } from '../port/lease-store.js';
import type { EtcdGateway, KeyValue, WriteOp } from './etcd-gateway.js';
import type { Keyspace } from './keyspace.js';

/**
 * etcd refuses a transaction with more than --max-txn-ops (128 by default) operations. A seal batch
 * writes each entry and deletes its pending key, plus the head: 60 entries are 121 operations.
 */
export const SEAL_BATCH = 60;
/**
 * Pending records one seal reads at the least; those it does not seal wait in memory for the next seal
 * (see `seal`). etcd answers a range sorted by create revision by reading the WHOLE range and cutting it
 * afterwards (`limit` applies after the sort), so every read of the 256 oldest of 10,000 pending records
 * (10,000 leases expiring together) read all 10,000 inside etcd: about 40 such reads to seal them.
 */
export const SEAL_READ_AHEAD = 2048;
/** Entries per archival transaction: a delete each, a delete per checkpoint among them, and the anchor. */
const PRUNE_BATCH = 60;

/** The compare failed: another sealer (or archiver) moved first. The caller re-reads and retries. */
export class AuditConflict extends Error {}

/**
 * The audit trail in etcd. A pending record is one more put in the transaction of the change it
 * describes; sealing orders pending records by create revision (the order etcd committed them; records
 * of one transaction by key) and appends them to the chain in a transaction guarded by the head key's
 * mod revision, so two nodes that both believe they lead can never fork the chain.
 */
export class EtcdAudit {
  #counter = 0;
  /**
   * The oldest pending records a seal read and did not seal, with the head it left behind: the next seal
   * starts from them while its compare on the head still holds. Records committed later all have higher
   * create revisions than these, so they are still the oldest; another sealer that moved the head fails
   * that compare (AuditConflict: the retry reads afresh).
   */
  #ahead: { head: AuditHead; headMod: number; pending: KeyValue[] } | undefined;

  constructor(
    private readonly gateway: EtcdGateway,
    private readonly keys: Keyspace,
    private readonly random: () => number,
  ) {}

  /** The write that records `event` as pending, for the caller's transaction. */
  pendingWrite(event: AuditEvent): { readonly put: string; readonly value: string } {
    // Unique without coordination: time, a per-process counter, and randomness. Order comes from the
    // create revision, not from this id.
    const id = `${event.time.toString(36).padStart(9, '0')}-${(this.#counter++).toString(36)}-${Math.floor(
      this.random() * 2 ** 48,
    ).toString(36)}`;
    return { put: this.keys.auditPendingRecord(id), value: canonicalJson(event) };
  }

  /**
   * The head, the anchor and the `limit` oldest pending records, in commit order. Bounded on purpose:
   * after a load run tens of thousands of records wait, and reading them all for every batch of 5,000
   * stalled the elected node and etcd for seconds (bench:ha's installs then missed their 1.5 s budget).
   * A page that cannot hold every record of its last transaction ends before that transaction, so the
   * records of one transaction are never split across two reads (their order is by key within it).
   */
  async #pendingKvs(
    limit: number,
    wholeTransactions = true,
  ): Promise<{
    head: KeyValue | undefined;
    anchor: KeyValue | undefined;
    pending: KeyValue[];
  }> {
    const { results } = await this.gateway.read([
      { key: this.keys.auditHead() },
      { key: this.keys.auditAnchor() },
      // One more than asked: it tells whether the page cut through a transaction's records.
      { prefix: this.keys.auditPending(), oldest: limit + 1 },
    ]);
    let pending = (results[2] ?? [])
      .slice()
      .sort((a, b) => a.createRevision - b.createRevision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const beyond = pending[limit];
    if (beyond) {
      if (!wholeTransactions) pending = pending.slice(0, limit);
      else {
        const whole = pending.filter((kv) => kv.createRevision < beyond.createRevision);
        // One transaction wrote more than a page: take it whole (read again with a larger bound).
        if (whole.length === 0) return this.#pendingKvs(limit * 2, wholeTransactions);
        pending = whole;
      }
    }
    return { head: results[0]?.[0], anchor: results[1]?.[0], pending };
  }

  /**
   * Seals up to `limit` pending records: one read of the pending queue (or the records the last seal read
   * ahead), then guarded batches of at most SEAL_BATCH (etcd's 128-operation limit), each compared against
   * the head the previous one wrote. (Reading the queue again per batch made sealing N records cost about
   * N²/60 reads.) AuditConflict when another sealer moved the head before the first batch; after that,
   * what was sealed is returned.
   */
  async seal(limit: number): Promise<AuditSealResult> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    // Fewer read ahead than asked: a fresh read, so that a short answer still means the queue is drained.
    let { head, headMod, pending } =
      ahead && ahead.pending.length >= limit ? ahead : await this.#readAhead(limit);
    let sealed = 0;
    const todo = pending.slice(0, limit);
    for (let i = 0; i < todo.length; i += SEAL_BATCH) {
      const batch = todo.slice(i, i + SEAL_BATCH);
      const entries = sealEvents(
        head,
        batch.map((kv) => JSON.parse(kv.value.toString()) as AuditEvent),
      );
      const last = entries[entries.length - 1] as AuditEntry;
      const next: AuditHead = { seq: last.seq, hash: last.hash };
      const writes: WriteOp[] = [];
      entries.forEach((entry, j) => {
        writes.push({ put: this.keys.auditEntry(entry.seq), value: JSON.stringify(entry) });
        writes.push({ delete: (batch[j] as KeyValue).key });
      });
      writes.push({ put: this.keys.auditHead(), value: JSON.stringify(next) });
      const result = await this.gateway.txn(
        [{ key: this.keys.auditHead(), target: 'Mod', equals: headMod }],
        writes,
      );
      if (!result.succeeded) {
        if (sealed === 0) throw new AuditConflict();
        break;
      }
      // The head was written by this transaction: its mod revision is the transaction's revision.
      headMod = result.revision;
      head = next;
      sealed += batch.length;
    }
    if (sealed === todo.length && pending.length > sealed) {
      pending = pending.slice(sealed);
      this.#ahead = { head, headMod, pending };
    }
    return { sealed, head };
  }

  /** The head and at least SEAL_READ_AHEAD (or `limit`) of the oldest pending records, in commit order. */
  async #readAhead(limit: number): Promise<{ head: AuditHead; headMod: number; pending: KeyValue[] }> {
    const { head, pending } = await this.#pendingKvs(Math.max(1, limit, SEAL_READ_AHEAD));
    return {
      head: head ? (JSON.parse(head.value.toString()) as AuditHead) : GENESIS_HEAD,
      headMod: head?.modRevision ?? 0,
      pending,
    };
  }

  async status(): Promise<AuditStatus> {
    // Counted, not read: this runs on every metrics scrape, and the queue can be long under load.
    const [{ results }, unsealed] = await Promise.all([
      this.gateway.read([{ key: this.keys.auditHead() }, { key: this.keys.auditAnchor() }]),
      this.gateway.count(this.keys.auditPending()),
    ]);
    const [head, anchor] = [results[0]?.[0], results[1]?.[0]];
    return {
      head: head ? (JSON.parse(head.value.toString()) as AuditHead) : GENESIS_HEAD,
      anchor: anchor ? (JSON.parse(anchor.value.toString()) as AuditHead) : GENESIS_HEAD,
      unsealed,
    };
  }

  async entries(query: AuditQuery): Promise<AuditEntry[]> {
    const op =
      query.beforeSeq !== undefined
        ? {
            from: this.keys.auditLog(),
            to: this.keys.auditEntry(Math.max(0, query.beforeSeq)),
            limit: query.limit,
            descending: true,
          }
        : {
            from: this.keys.auditEntry((query.afterSeq ?? 0) + 1),
            to: `${this.keys.auditLog()}~`,
            limit: query.limit,
          };
    const { results } = await this.gateway.read([op]);
    return (results[0] ?? []).map((kv) => JSON.parse(kv.value.toString()) as AuditEntry);
  }

  async pending(limit: number): Promise<AuditEvent[]> {
    const { pending } = await this.#pendingKvs(Math.max(1, limit), false);
    return pending.slice(0, limit).map((kv) => JSON.parse(kv.value.toString()) as AuditEvent);
  }

  async saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    const key = this.keys.auditCheckpoint(checkpoint.seq);
    // Create-if-absent: a checkpoint, once stored, is never replaced.
    await this.gateway.txn(
      [{ key, target: 'Create', equals: 0 }],
      [{ put: key, value: JSON.stringify(checkpoint) }],
    );
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const { results } = await this.gateway.read([{ prefix: this.keys.auditCheckpoints() }]);
    return (results[0] ?? []).map((kv) => JSON.parse(kv.value.toString()) as StoredCheckpoint);
  }

  /** One archival batch: deletes up to PRUNE_BATCH entries after the anchor, through `throughSeq`. */
  async pruneBatch(throughSeq: number): Promise<AuditHead> {
    const { results } = await this.gateway.read([{ key: this.keys.auditAnchor() }]);
    const anchorKv = results[0]?.[0];
    const anchor = anchorKv ? (JSON.parse(anchorKv.value.toString()) as AuditHead) : GENESIS_HEAD;
    if (throughSeq <= anchor.seq) return anchor;
    const upTo = Math.min(throughSeq, anchor.seq + PRUNE_BATCH);
    const batch = await this.entries({ afterSeq: anchor.seq, limit: upTo - anchor.seq });
    const last = batch[batch.length - 1];
    if (!last || last.seq !== upTo) throw new RangeError(`no sealed audit entry ${upTo} to archive through`);
    const next: AuditHead = { seq: last.seq, hash: last.hash };
    // Their checkpoints went into the segment with them (at most one per entry: within etcd's limit),
    // from the old anchor's on; the one at `upTo` stays, as the signature of the anchor moved there
    // (docs/audit.md), until a later batch moves past it.
    const checkpoints = await this.gateway.read([
      {
        from: this.keys.auditCheckpoint(anchor.seq),
        to: this.keys.auditCheckpoint(upTo),
        limit: PRUNE_BATCH,
      },
    ]);
    const result = await this.gateway.txn(
      [{ key: this.keys.auditAnchor(), target: 'Mod', equals: anchorKv?.modRevision ?? 0 }],
      [
        ...batch.map((e) => ({ delete: this.keys.auditEntry(e.seq) })),
        ...(checkpoints.results[0] ?? []).map((kv) => ({ delete: kv.key })),
        { put: this.keys.auditAnchor(), value: JSON.stringify(next) },
      ],
    );
    if (!result.succeeded) throw new AuditConflict();
    return next;
  }
}
