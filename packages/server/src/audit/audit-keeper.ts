import {
  type AuditHead,
  type Clock,
  exportLine,
  PeriodicTask,
  type PrivateKeyInfo,
  type StoredCheckpoint,
  signCheckpoint,
} from '@leasehold/domain';
import type { LeaseStore, Membership } from '@leasehold/store';
import type { FastifyBaseLogger } from 'fastify';
import { checkpointLines, SegmentFile, segmentAround, signedAnchor } from './archive-segment.js';

export interface AuditKeeperOptions {
  /** This node's id: the `node` of the events and checkpoints it writes. */
  readonly node: string;
  /** How often pending records are sealed into the chain. */
  readonly sealIntervalMs: number;
  /** How often the head is signed (when it moved). */
  readonly checkpointIntervalMs: number;
  /** More sealed entries than this in the store are archived, oldest first (0: never archive). */
  readonly maxLiveEntries: number;
  readonly archiveDir: string;
  /** Whether this node is the elected one; only it seals, signs and archives. */
  readonly isLeader: () => boolean;
  /** The cluster key that signs checkpoints (undefined until the keyring is loaded). */
  readonly signer: () => PrivateKeyInfo | undefined;
  /** In a cluster: the leader records node.left for nodes whose heartbeat record disappeared. */
  readonly membership?: Membership;
}

/**
 * How long a follower remembers departures. A leadership change within this of a departure may record it
 * twice (old and new leader); a crashed leader's own departure is recorded by its successor.
 */
const DEPARTED_MEMORY_MS = 30_000;

/**
 * Records sealed per store call; sealing loops until the pending queue is drained. Small on purpose: one
 * call seals synchronously (on SQLite inside the group commit's transaction, so the checkouts queued
 * behind it wait for it). In a CPU profile of the embedded bench's checkouts (~2,400/s) a call of up to
 * 5,000 held the event loop for up to 18.5 ms at a time; at 256, for up to 4.1 ms (issue 14). At
 * ~3,600 checkouts/s a 256-record call added 2.5-3.5 ms to the group commit it joined (p50 5.8 ms against
 * 2.2 ms without), 14 times a second: among the longest event-loop stalls (bench/README.md, session 9),
 * so 128. Between calls the event loop serves requests.
 */
const SEAL_LIMIT = 128;

/** Entries read per store call while archiving (~0.5 MB on etcd, far under gRPC's 4 MiB answer limit). */
const ARCHIVE_PAGE = 1000;

/**
 * The audit trail's singleton work, on the elected node: seal pending records into the hash chain,
 * sign checkpoints of its head with the cluster key, archive the oldest entries when the live chain
 * grows past its bound, and notice nodes that left. Every store write it makes is guarded inside the
 * store (head and anchor mod revisions), so a deposed leader that still runs a tick cannot fork the chain.
 */
export class AuditKeeper {
  readonly #task: PeriodicTask;
  #lastCheckpointAt = Number.NEGATIVE_INFINITY;
  #lastCheckpointSeq = 0;
  /** The anchor seq last found signed (or not resumable): #archive looks at each anchor position once. */
  #anchorChecked = 0;
  /**
   * Node ids seen at the previous tick, as leader or not: a node that takes over after the leader crashed
   * still knows the old leader was alive, and so records its departure too.
   */
  #knownNodes: Set<string> | undefined;
  /** Nodes seen leaving while this node followed, and when; recorded if it becomes the leader soon after. */
  readonly #departedWhileFollowing = new Map<string, number>();

  constructor(
    private readonly store: LeaseStore,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly options: AuditKeeperOptions,
  ) {
    this.#task = new PeriodicTask({
      clock,
      intervalMs: options.sealIntervalMs,
      run: () => this.tick(),
      onError: (err) => log.warn({ err }, 'audit upkeep failed; retrying at the next interval'),
      background: false,
    });
  }

  start(): void {
    this.#task.start();
  }

  /** Stops the upkeep; resolves once a tick in progress has ended. */
  stop(): Promise<void> {
    return this.#task.stop();
  }

  /** One round of the keeper's work; errors are logged and retried at the next tick. */
  async tick(): Promise<void> {
    if (!this.options.isLeader()) {
      // Followers only watch (one small range read per interval), so that a new leader has a baseline.
      await this.#watchNodes(false).catch(() => undefined);
      return;
    }
    try {
      await this.#watchNodes();
      await this.sealAll();
      await this.#checkpoint();
      await this.#archive();
    } catch (err) {
      this.log.warn({ err }, 'audit upkeep failed; retrying at the next interval');
    }
  }

  /** Seals until nothing is pending; returns how many records were sealed. */
  async sealAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { sealed } = await this.store.sealAudit(SEAL_LIMIT);
      total += sealed;
      if (sealed < SEAL_LIMIT) return total;
    }
  }

  async #checkpoint(): Promise<void> {
    const signer = this.options.signer();
    const now = this.clock.now();
    if (!signer || now - this.#lastCheckpointAt < this.options.checkpointIntervalMs) return;
    const { head } = await this.store.auditStatus();
    if (head.seq === 0 || head.seq === this.#lastCheckpointSeq) return;
    const checkpoint = await signCheckpoint({ ...head, time: now, node: this.options.node }, signer);
    await this.store.saveAuditCheckpoint(checkpoint);
    this.#lastCheckpointAt = now;
    this.#lastCheckpointSeq = head.seq;
    this.log.debug({ seq: head.seq }, 'audit checkpoint signed');
  }

  async #archive(): Promise<void> {
    const max = this.options.maxLiveEntries;
    // The new anchor must be signed (docs/audit.md): no archival before the cluster key is loaded.
    const signer = this.options.signer();
    if (max <= 0 || !signer) return;
    const { head, anchor } = await this.store.auditStatus();
    // Checked once per anchor position (the checkpoint list is read only then, not every tick).
    if (anchor.seq > 0 && anchor.seq !== this.#anchorChecked) {
      const checkpoints = await this.store.listAuditCheckpoints();
      if (!checkpoints.some((c) => c.seq === anchor.seq)) {
        // An archival interrupted between etcd batches left the anchor short of its signed end: finish
        // it. (An anchor archived before anchors were signed has no checkpoint either: archival goes on.)
        const segment = segmentAround(this.options.archiveDir, anchor.seq);
        if (segment && segment.to > anchor.seq) {
          await this.store.pruneAudit(segment.to);
          return;
        }
      }
      this.#anchorChecked = anchor.seq;
    }
    const live = head.seq - anchor.seq;
    if (live <= max) return;
    const checkpoints = await this.store.listAuditCheckpoints();
    // Archive down to half the bound, so archival runs rarely and in large segments.
    const through = head.seq - Math.floor(max / 2);
    const [last] = await this.store.auditEntries({ afterSeq: through - 1, limit: 1 });
    if (!last || last.seq !== through) return;
    // The checkpoint at `through` signs the anchor that pruning moves there; it stays in the store.
    if (!checkpoints.some((c) => c.seq === through)) {
      const at = await signCheckpoint(
        { seq: through, hash: last.hash, time: this.clock.now(), node: this.options.node },
        signer,
      );
      await this.store.saveAuditCheckpoint(at);
      checkpoints.push(at);
    }
    const path = await this.#writeSegment(anchor, through, checkpoints);
    if (path === undefined) return;
    const moved = await this.store.pruneAudit(through);
    this.log.info({ path, from: anchor.seq + 1, through: moved.seq }, 'audit entries archived');
  }

  /**
   * Writes the entries after `anchor` through `through` into a segment file, read ARCHIVE_PAGE at a
   * time; undefined (no file) when the entries found are not exactly that run of seqs (another leader
   * archived meanwhile). One read of all of them (50,000 at the default bound, ~25 MB) was over gRPC's
   * 4 MiB answer limit on etcd: it failed on every tick, each attempt making etcd read and send them all
   * again, and held them all in the elected node's heap.
   */
  async #writeSegment(
    anchor: AuditHead,
    through: number,
    checkpoints: readonly StoredCheckpoint[],
  ): Promise<string | undefined> {
    const file = new SegmentFile(this.options.archiveDir, anchor.seq + 1, through);
    try {
      file.write([exportLine({ type: 'anchor', ...signedAnchor(anchor, checkpoints) })]);
      for (let after = anchor.seq; after < through; ) {
        const page = await this.store.auditEntries({
          afterSeq: after,
          limit: Math.min(ARCHIVE_PAGE, through - after),
        });
        if (page.length === 0 || page.some((e, i) => e.seq !== after + 1 + i)) {
          file.abort();
          return undefined;
        }
        file.write(page.map((e) => exportLine({ type: 'entry', ...e })));
        after += page.length;
      }
      file.write(checkpointLines(checkpoints, anchor.seq + 1, through));
    } catch (err) {
      file.abort();
      throw err;
    }
    return file.commit();
  }

  async #watchNodes(leading = true): Promise<void> {
    const membership = this.options.membership;
    if (!membership) return;
    const ids = new Set((await membership.nodes()).map((n) => n.id));
    const now = this.clock.now();
    const gone = [...(this.#knownNodes ?? [])].filter((id) => !ids.has(id));
    if (!leading) {
      // A follower remembers who left for a while: if the leader itself was among them, nobody else will
      // record it, and this node may be the one that takes over.
      for (const id of gone) this.#departedWhileFollowing.set(id, now);
      for (const [id, at] of this.#departedWhileFollowing) {
        if (ids.has(id) || now - at > DEPARTED_MEMORY_MS) this.#departedWhileFollowing.delete(id);
      }
      this.#knownNodes = ids;
      return;
    }
    const departed = new Set(gone);
    for (const id of this.#departedWhileFollowing.keys()) if (!ids.has(id)) departed.add(id);
    for (const id of departed) {
      await this.store.recordAudit({
        action: 'node.left',
        actor: 'system:membership',
        subject: `node:${id}`,
        time: now,
        node: this.options.node,
        details: { reason: 'heartbeat record gone' },
      });
    }
    // Only after every departure is recorded: a failed write is retried at the next tick.
    this.#departedWhileFollowing.clear();
    this.#knownNodes = ids;
  }
}
