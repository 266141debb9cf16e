import { LeaseholdError, type StoredCheckpoint } from '@leasehold/domain';
import type { IWatchResponse } from 'etcd3';
import { openSigningKey } from '../crypto/sealed-records.js';
import type { ApiTokenRecord, StoredSigningKey } from '../port/lease-store.js';
import type {
  Change,
  ChangePage,
  ChangeQuery,
  ReplicatedKind,
  ReplicatedRecord,
  ReplicationSnapshot,
} from '../port/replication-feed.js';
import type { EtcdContext } from './etcd-context.js';
import { EtcdTransientError, type KeyValue, storeUnavailable } from './etcd-gateway.js';
import { decodeJson, decodeLease, decodeLicense } from './records.js';
import { prefixEnd } from './txn-footprint.js';

/** How long a feed request waits for etcd to say it has sent every event up to now (a progress answer). */
const PROGRESS_TIMEOUT_MS = 5000;
/** How often the progress request is repeated while the watch is still replaying history (see below). */
const PROGRESS_RETRY_MS = 100;
/**
 * The first progress request waits this long after the watch is created. etcd syncs a watcher that
 * starts in the past every 100 ms; asked before that, it defers the answer until it next sends this
 * stream a response — and while one answer is deferred it ignores further requests. A replay with no
 * event under our prefix sends nothing, so an early request could wait for the next write. After one
 * sync round the answer comes at once.
 */
const FIRST_PROGRESS_DELAY_MS = 150;

/**
 * The change feed on etcd (docs/replication.md): etcd's own revisions and history, no table of ours.
 *
 * A page is one watch of this deployment's prefix from `after + 1`. etcd replays the retained history
 * and then the live changes, each revision whole in one response, in order; below the compacted
 * revision it cancels the watch with `compact_revision` (REPLICATION_HISTORY_COMPACTED here). What the
 * watch alone cannot tell is when the replay is *done* when it holds nothing relevant: for that the
 * page asks for a progress notification (etcd >= 3.5.8 answers it once the watcher has caught up, with
 * the revision every event up to which was sent — Kubernetes' bookmarks use the same), so an empty page
 * still moves the reader forward. Events under the prefix that are not replicated (audit pending
 * records, node heartbeats, slot and request keys) advance the position without being sent.
 */
export class EtcdFeed {
  /** The compaction revision last seen by a watch this node opened (etcd tells it only then). */
  #compacted = 0;

  constructor(private readonly ctx: EtcdContext) {}

  async changesSince(query: ChangeQuery): Promise<ChangePage> {
    const { ctx } = this;
    const head = await ctx.optimistic.run(
      async () => (await ctx.gateway.read([{ key: ctx.keys.licenseRev() }])).revision,
    );
    if (query.after > head) throw compacted(query.after, this.#compacted, head);
    if (query.after < this.#compacted) throw compacted(query.after, this.#compacted, head);
    const page = await this.#watchPage(query, head);
    return page;
  }

  #watchPage(query: ChangeQuery, knownHead: number): Promise<ChangePage> {
    const { ctx } = this;
    const prefix = ctx.keys.prefix;
    return new Promise<ChangePage>((resolve, reject) => {
      let stream: Awaited<ReturnType<typeof ctx.gateway.client.watchClient.watch>> | undefined;
      let settled = false;
      let head = knownHead;
      let progressed = -1; // the latest revision etcd said every event up to which was sent
      const changes: Change[] = [];
      let lastEventRev = query.after;
      const timers: NodeJS.Timeout[] = [];
      const waitUntil = performance.now() + Math.max(0, query.waitMs);

      const finish = (outcome: { page?: ChangePage; error?: unknown }) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        if (progressTimer) clearInterval(progressTimer);
        query.signal?.removeEventListener('abort', onAbort);
        try {
          stream?.cancel();
        } catch {
          // already gone
        }
        if (outcome.error !== undefined) reject(outcome.error);
        else if (outcome.page) resolve(outcome.page);
      };
      const page = (through: number): ChangePage => ({
        changes: changes.slice(),
        through,
        head: Math.max(head, through),
        oldest: this.#compacted,
      });
      const onAbort = () => finish({ page: page(Math.max(query.after, progressed)) });
      query.signal?.addEventListener('abort', onAbort, { once: true });

      const requestProgress = () => {
        try {
          stream?.write({ progress_request: {} });
        } catch {
          // the stream's error handler ends the page
        }
      };
      // Repeated once started: a member that deferred the first request answers the next one it takes.
      // A duplicate answer is harmless (it only moves `progressed` forward).
      let progressTimer: NodeJS.Timeout | undefined;
      timers.push(
        setTimeout(() => {
          if (progressed >= 0) return;
          // No confirmation in time: what arrived is still whole revisions in order, so it can be sent
          // (the next page resumes after it); with nothing, the reader retries.
          if (changes.length > 0) finish({ page: page(lastEventRev) });
          else finish({ error: storeUnavailable(new Error('etcd sent no watch progress in time')) });
        }, PROGRESS_TIMEOUT_MS + Math.max(0, query.waitMs)),
      );

      const onResponse = (res: IWatchResponse) => {
        head = Math.max(head, Number(res.header?.revision ?? 0));
        if (res.canceled) {
          const compactRev = Number(res.compact_revision ?? 0);
          if (compactRev > 0) {
            this.#compacted = Math.max(this.#compacted, compactRev);
            finish({ error: compacted(query.after, compactRev, head) });
          } else {
            finish({ error: storeUnavailable(new Error(`etcd cancelled the watch: ${res.cancel_reason}`)) });
          }
          return;
        }
        if (res.created) {
          timers.push(
            setTimeout(() => {
              requestProgress();
              progressTimer = setInterval(requestProgress, PROGRESS_RETRY_MS);
            }, FIRST_PROGRESS_DELAY_MS),
          );
          return;
        }
        const events = res.events ?? [];
        if (events.length === 0) {
          // A progress notification: every event up to header.revision has been sent.
          progressed = Math.max(progressed, Number(res.header?.revision ?? 0));
          if (changes.length > 0 || performance.now() >= waitUntil) {
            finish({ page: page(Math.max(progressed, lastEventRev)) });
          }
          return;
        }
        for (const event of events) {
          const rev = Number(event.kv.mod_revision);
          lastEventRev = Math.max(lastEventRev, rev);
          const change = this.#changeOf(event.type, event.kv, rev);
          if (change) changes.push(change);
        }
        // A response holds whole revisions: the page may end after it. Once caught up, anything new
        // ends the long-poll: changes to send, or a bookmark past writes replication does not copy
        // (audit records, heartbeats), so the reader's position and lag follow the head closely.
        if (changes.length >= query.limit || progressed >= 0) finish({ page: page(lastEventRev) });
      };

      // Long-poll end: with nothing relevant, an idle bookmark at the latest confirmed revision.
      timers.push(
        setTimeout(
          () => {
            if (progressed >= 0) finish({ page: page(Math.max(progressed, lastEventRev)) });
          },
          Math.max(0, query.waitMs),
        ),
      );

      ctx.gateway.client.watchClient
        .watch()
        .then((s) => {
          stream = s;
          if (settled) {
            s.cancel();
            return;
          }
          s.on('data', onResponse);
          s.on('error', (err) => {
            if (!settled) finish({ error: storeUnavailable(new EtcdTransientError(err.message)) });
          });
          s.on('end', () => {
            if (!settled) finish({ error: storeUnavailable(new Error('the etcd watch stream ended')) });
          });
          s.write({
            create_request: {
              key: Buffer.from(prefix),
              range_end: prefixEnd(prefix),
              start_revision: String(query.after + 1),
            },
          });
        })
        .catch((err: unknown) => finish({ error: storeUnavailable(err) }));
    });
  }

  /** The replicated change an event is, or undefined for a key replication does not copy. */
  #changeOf(
    type: string,
    kv: { key: Buffer; value: Buffer; create_revision: string; mod_revision: string },
    rev: number,
  ): Change | undefined {
    const key = kv.key.toString();
    const named = this.#name(key);
    if (!named) return undefined;
    if (type === 'Delete') return { rev, op: 'delete', kind: named.kind, id: named.id };
    const record = this.#record(named.kind, named.id, {
      key,
      value: kv.value,
      createRevision: Number(kv.create_revision),
      modRevision: rev,
    });
    return { rev, op: 'put', record };
  }

  /** Which replicated record a key holds, if any. */
  #name(key: string): { kind: ReplicatedKind; id: string } | undefined {
    const { keys } = this.ctx;
    const under = (prefix: string) =>
      key.startsWith(prefix) && !key.slice(prefix.length).includes('/')
        ? decodeURIComponent(key.slice(prefix.length))
        : undefined;
    const license = under(keys.licenses());
    if (license !== undefined) return { kind: 'license', id: license };
    const token = under(keys.tokenHashes());
    if (token !== undefined) return { kind: 'token', id: token };
    const kid = under(keys.signingKeys());
    if (kid !== undefined && kid !== '~first') return { kind: 'signing-key', id: kid };
    const lease = under(keys.leases());
    if (lease !== undefined) return { kind: 'lease', id: lease };
    const seq = under(keys.auditCheckpoints());
    if (seq !== undefined) return { kind: 'checkpoint', id: String(Number(seq)) };
    return undefined;
  }

  #record(kind: ReplicatedKind, id: string, kv: KeyValue): ReplicatedRecord {
    const cipher = this.ctx.sealer();
    switch (kind) {
      case 'license':
        return { kind, id, value: decodeLicense(kv, cipher) };
      case 'token':
        return { kind, id, value: decodeJson<ApiTokenRecord>(kv) };
      case 'signing-key':
        return { kind, id, value: openSigningKey(decodeJson<StoredSigningKey>(kv), cipher) };
      case 'lease':
        return { kind, id, value: decodeLease(kv) };
      case 'checkpoint':
        return { kind, id, value: decodeJson<StoredCheckpoint>(kv) };
    }
  }

  /** Every replicated record, read in one etcd read transaction: one revision. */
  replicationSnapshot(): Promise<ReplicationSnapshot> {
    const { ctx } = this;
    const { keys } = ctx;
    return ctx.optimistic.run(async () => {
      const { results, revision } = await ctx.gateway.read([
        { prefix: keys.licenses() },
        { prefix: keys.tokenHashes() },
        { prefix: keys.signingKeys() },
        { prefix: keys.leases() },
        { prefix: keys.auditCheckpoints() },
      ]);
      const records: ReplicatedRecord[] = [];
      for (const list of results) {
        for (const kv of list) {
          const named = this.#name(kv.key);
          if (named) records.push(this.#record(named.kind, named.id, kv));
        }
      }
      return { revision, records };
    });
  }
}

function compacted(after: number, oldest: number, head: number): LeaseholdError {
  return new LeaseholdError(
    'REPLICATION_HISTORY_COMPACTED',
    after > head
      ? `revision ${after} is ahead of this store's head ${head} (another store's history?)`
      : `etcd compacted its history through revision ${oldest}`,
    { after, oldest, head },
  );
}
