import { type AuditContext, expiredLease, holdsSeat, type Lease } from '@leasehold/domain';
import { DEFAULT_LIST_LIMIT, parseLeaseCursor } from '../port/lease-cursor.js';
import type { LeaseQuery } from '../port/lease-store.js';
import type { EtcdContext } from './etcd-context.js';
import {
  type Compare,
  EtcdTransientError,
  type KeyValue,
  storeUnavailable,
  type WriteOp,
} from './etcd-gateway.js';
import type { EtcdLeases } from './etcd-leases.js';
import { Keyspace } from './keyspace.js';
import { decodeLease } from './records.js';

/** Index entries (or lease records) read per round trip while a listing fills a page, or purge runs. */
const SCAN_CHUNK = 200;
/** Pages one purge goes through at most (200,000 ended leases); the next purge goes on from there. */
const MAX_PURGE_PAGES = 1000;

/**
 * The deadline index on etcd: a key `by-deadline/{reservedUntil}/{lease id}` for every lease that holds
 * a seat, written in the transaction that grants it, moved by the one that renews it to a later deadline
 * and deleted by the one that ends it (etcd-leases.ts, etcd-checkout.ts). Key order is deadline order, so
 *
 * - the sweep reads the range of deadlines up to now less the clock margin (SeatHandOver) — the leases
 *   whose seats are free, and nothing else — and ends
 *   them with one compare-guarded transaction each, handed to the batcher together (21 share a Raft proposal
 *   at etcd's default --max-txn-ops), where reading every live lease and ending them one by one cost
 *   O(live) reads and a transaction each;
 * - live listings page through the range after now, from a cursor.
 *
 * Ended leases have an entry `by-end/{endedAt}/{lease id}`, written by the transaction that ends them, so
 * purge reads the range of ends before its cut-off instead of every lease record.
 *
 * An entry that no longer matches its lease (a node of an older version renewed or ended it without
 * the index) is repaired or dropped by the sweep that meets it; leases written before the index existed
 * are indexed once, by the first sweep of a node that has it (`#backfill`, then a marker key).
 */
export class EtcdLeaseIndex {
  #backfilled = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly leases: EtcdLeases,
  ) {}

  async expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    await this.#backfill();
    const { ctx } = this;
    const { keys, gateway } = ctx;
    const entries = await ctx.optimistic.run(async () => {
      const { results } = await gateway.read([
        // Deadlines up to now less the clock margin: a lease within it keeps its seat (SeatHandOver).
        { from: keys.deadlines(), to: keys.deadlinesThrough(ctx.handOver.freedDeadlineAt(now)), limit },
      ]);
      return results[0] ?? [];
    });
    if (entries.length === 0) return [];
    const records = await ctx.optimistic.run(() =>
      gateway.getMany(entries.map((e) => keys.lease(e.value.toString()))),
    );
    const txns: { compare: Compare[]; writes: WriteOp[]; expired?: Lease }[] = entries.map((entry, i) =>
      this.#sweepEntry(entry, records[i], now, audit),
    );
    const settled = await ctx.optimistic.run(() => Promise.allSettled(gateway.txnMany(txns)));
    // A failed compare (renewed, released or taken over since the read) or an unknown outcome: the next
    // sweep reads the index again and decides afresh.
    return settled.flatMap((result, i) => {
      const expired = txns[i]?.expired;
      return expired && result.status === 'fulfilled' && result.value.succeeded ? [expired] : [];
    });
  }

  /** What the sweep does with one index entry up to now: end its overdue lease, or repair the entry. */
  #sweepEntry(
    entry: KeyValue,
    record: KeyValue | undefined,
    now: number,
    audit: AuditContext | undefined,
  ): { compare: Compare[]; writes: WriteOp[]; expired?: Lease } {
    const { keys } = this.ctx;
    const drop: WriteOp = { delete: entry.key };
    if (!record)
      return {
        compare: [{ key: keys.lease(entry.value.toString()), target: 'Create', equals: 0 }],
        writes: [drop],
      };
    const lease = decodeLease(record);
    const unchanged: Compare[] = [{ key: record.key, target: 'Mod', equals: record.modRevision }];
    if (lease.endReason !== undefined) return { compare: unchanged, writes: [drop] };
    const at = keys.deadline(lease.reservedUntil, lease.id);
    if (at !== entry.key) return { compare: unchanged, writes: [drop, { put: at, value: lease.id }] };
    const expired = expiredLease(lease);
    return {
      compare: this.leases.owns(record, lease),
      writes: this.leases.endWrites(record, lease, expired, audit, now),
      expired,
    };
  }

  /**
   * Deletes leases that ended before `before`, with their request keys and end entries, reading the end
   * index up to `before` (a page at a time) rather than every lease record. A record changed since it was
   * read is left for the next purge. A transient etcd error stops the purge with STORE_UNAVAILABLE (the
   * sweeper logs it and purges again later); any other error is a bug and is thrown as it is.
   */
  async purge(before: number): Promise<number> {
    await this.#backfill();
    const { ctx } = this;
    const { keys, gateway } = ctx;
    let purged = 0;
    for (let page = 0; page < MAX_PURGE_PAGES; page++) {
      const entries = await ctx.optimistic.run(async () => {
        const { results } = await gateway.read([
          { from: keys.endings(), to: keys.endedBefore(before), limit: SCAN_CHUNK },
        ]);
        return results[0] ?? [];
      });
      if (entries.length === 0) break;
      const records = await ctx.optimistic.run(() =>
        gateway.getMany(entries.map((e) => keys.lease(e.value.toString()))),
      );
      const txns = entries.map((entry, i) => {
        const record = records[i];
        if (!record) {
          const gone: Compare = { key: keys.lease(entry.value.toString()), target: 'Create', equals: 0 };
          return { compare: [gone], writes: [{ delete: entry.key }] as WriteOp[], purges: false };
        }
        const lease = decodeLease(record);
        const unchanged: Compare = { key: record.key, target: 'Mod', equals: record.modRevision };
        const writes: WriteOp[] = [{ delete: entry.key }];
        const current = lease.endedAt !== undefined && keys.ended(lease.endedAt, lease.id) === entry.key;
        if (current)
          writes.push(
            { delete: record.key },
            { delete: keys.request(lease.client.id, lease.requestId, lease.licenseId) },
            { delete: keys.legacyRequest(lease.client.id, lease.requestId) },
          );
        return { compare: [unchanged], writes, purges: current };
      });
      const settled = await Promise.allSettled(gateway.txnMany(txns));
      for (const [i, result] of settled.entries()) {
        if (result.status === 'rejected') {
          if (result.reason instanceof EtcdTransientError) throw storeUnavailable(result.reason);
          throw result.reason;
        }
        if (result.value.succeeded && txns[i]?.purges) purged++;
      }
      if (entries.length < SCAN_CHUNK) break;
    }
    return purged;
  }

  /** A page of `listLeases`: live leases along the index after now, or every record by id. */
  async list(query: LeaseQuery): Promise<Lease[]> {
    const limit = query.limit ?? DEFAULT_LIST_LIMIT;
    const includeEnded = query.includeEnded === true;
    const after = query.after === undefined ? undefined : parseLeaseCursor(query.after, includeEnded);
    const wanted = (l: Lease) =>
      (query.licenseId === undefined || l.licenseId === query.licenseId) &&
      (query.feature === undefined || l.feature === query.feature);
    const { keys } = this.ctx;
    if (includeEnded) {
      const from = after ? `${keys.lease(after.id)}\0` : keys.leases();
      return this.#scan(from, Keyspace.rangeEnd(keys.leases()), limit, async (kvs) =>
        kvs.map(decodeLease).filter(wanted),
      );
    }
    // From the first deadline after now, or from just after the cursor's entry when that is later.
    let from = keys.deadlinesThrough(query.now);
    const cursor = after?.kind === 'deadline' ? `${keys.deadline(after.reservedUntil, after.id)}\0` : '';
    if (cursor > from) from = cursor;
    return this.#scan(from, Keyspace.rangeEnd(keys.deadlines()), limit, async (entries) => {
      const records = await this.ctx.gateway.getMany(entries.map((e) => keys.lease(e.value.toString())));
      return records.flatMap((kv, i) => {
        const lease = kv && decodeLease(kv);
        // An entry that no longer matches its lease is the sweep's to repair; the lease shows under its own.
        const current = lease && keys.deadline(lease.reservedUntil, lease.id) === entries[i]?.key;
        return lease && current && holdsSeat(lease, query.now) && wanted(lease) ? [lease] : [];
      });
    });
  }

  /** Reads [from, to) in key order a chunk at a time until `limit` leases are kept or the range ends. */
  async #scan(
    from: string,
    to: string,
    limit: number,
    keep: (kvs: KeyValue[]) => Promise<Lease[]>,
  ): Promise<Lease[]> {
    const found: Lease[] = [];
    let next = from;
    while (found.length < limit) {
      const chunk = Math.max(limit - found.length, SCAN_CHUNK);
      const start = next;
      const kvs = await this.ctx.optimistic.run(async () => {
        const { results } = await this.ctx.gateway.read([{ from: start, to, limit: chunk }]);
        return results[0] ?? [];
      });
      found.push(...(await this.ctx.optimistic.run(() => keep(kvs))));
      const last = kvs.at(-1);
      if (kvs.length < chunk || !last) break;
      next = `${last.key}\0`;
    }
    return found.slice(0, limit);
  }

  /**
   * Seats held at `now` per pool (keyed by its slot prefix), or undefined while the index is not filled
   * (the caller reads the lease records then). One read at one revision: the slot keys (their values are
   * lease ids) and the index entries after `now` less the clock margin — a slot counts when its lease
   * has one, i.e. has not ended and still occupies its seat (SeatHandOver). An entry a node of an older version left behind
   * (see the class comment) may count a lease renewed there as past its deadline until a sweep repairs
   * the entry: this is a usage figure, never a checkout decision (those compare the slot keys).
   */
  seatsHeld(now: number): Promise<Map<string, number> | undefined> {
    const { ctx } = this;
    const { keys, gateway } = ctx;
    return ctx.optimistic.run(async () => {
      // The marker and the revision first, then both ranges paged at that revision: one snapshot however
      // many leases are live (at 100,000 either range alone exceeds one gRPC answer's 4 MiB).
      const { results, revision } = await gateway.read([{ key: keys.deadlineIndexReady() }]);
      if ((results[0]?.length ?? 0) === 0) return undefined;
      const [slots, deadlines] = await Promise.all([
        gateway.rangeAt(keys.slots(), keys.slots(), revision),
        gateway.rangeAt(keys.deadlinesThrough(ctx.handOver.freedDeadlineAt(now)), keys.deadlines(), revision),
      ]);
      const live = new Set(deadlines.map((kv) => kv.value.toString()));
      const held = new Map<string, number>();
      for (const kv of slots) {
        if (!live.has(kv.value.toString())) continue;
        const pool = kv.key.slice(0, kv.key.lastIndexOf('/') + 1);
        held.set(pool, (held.get(pool) ?? 0) + 1);
      }
      return held;
    });
  }

  /**
   * Indexes every lease written before the index existed, once per cluster: one pass over the lease
   * records (a page at a time), then a marker key that later sweeps read instead. Entries are written
   * only for records unchanged since the pass read them; a record changed meanwhile was written by a
   * node that keeps the index.
   */
  async #backfill(): Promise<void> {
    if (this.#backfilled) return;
    const { ctx } = this;
    const { keys, gateway } = ctx;
    const marker = await ctx.optimistic.run(() => gateway.read([{ key: keys.deadlineIndexReady() }]));
    if ((marker.results[0]?.length ?? 0) === 0) {
      let from = keys.leases();
      for (;;) {
        const start = from;
        const kvs = await ctx.optimistic.run(async () => {
          const { results } = await gateway.read([
            { from: start, to: Keyspace.rangeEnd(keys.leases()), limit: SCAN_CHUNK },
          ]);
          return results[0] ?? [];
        });
        const txns = kvs.map((kv) => {
          const lease = decodeLease(kv);
          const compare: Compare[] = [{ key: kv.key, target: 'Mod', equals: kv.modRevision }];
          const entry =
            lease.endReason === undefined
              ? keys.deadline(lease.reservedUntil, lease.id)
              : keys.ended(lease.endedAt ?? lease.reservedUntil, lease.id);
          return { compare, writes: [{ put: entry, value: lease.id }] };
        });
        const settled = await ctx.optimistic.run(() => Promise.allSettled(gateway.txnMany(txns)));
        // Not knowing whether an entry was written is not done: the marker waits for the next sweep.
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw storeUnavailable(failed.reason);
        const last = kvs.at(-1);
        if (kvs.length < SCAN_CHUNK || !last) break;
        from = `${last.key}\0`;
      }
      await ctx.optimistic.run(() =>
        gateway.txn([], [{ put: keys.deadlineIndexReady(), value: JSON.stringify({ version: 1 }) }]),
      );
    }
    this.#backfilled = true;
  }
}
