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
import type { ReadAnswer } from './read-batcher.js';
import { decodeLease } from './records.js';

/** Index entries (or lease records) read per round trip while a listing fills a page, or purge runs. */
const SCAN_CHUNK = 200;
/** Pages one purge goes through at most (200,000 ended leases); the next purge goes on from there. */
const MAX_PURGE_PAGES = 1000;
/**
 * Index entries one page of a sweep reads, and pages in flight at once. A sweep reads a page, and while
 * that page's records are read and its expiries written, reads the next (from after the page's last
 * key): the round trips overlap instead of adding up. 10,000 leases that expired together took 4-5 s
 * of sweeping one 1,000 at a time, its records 100 at a time in turn (bench:scale --etcd run 4).
 */
const SWEEP_PAGE = 500;
const SWEEP_PAGES_IN_FLIGHT = 4;
/** Single-key reads per read transaction (the read batcher's cap: under etcd's --max-txn-ops). */
const RECORDS_PER_READ = 100;
/** Pools counted at once by seat usage (one count-only range each). */
const COUNTS_IN_FLIGHT = 32;

/**
 * The deadline index on etcd: a key `by-deadline/{reservedUntil}/{lease id}`, valued with the lease's slot
 * key, for every lease that holds a seat, written in the transaction that grants it, moved by the one that
 * renews it to a later deadline and deleted by the one that ends it (etcd-leases.ts, etcd-checkout.ts).
 * Key order is deadline order, so
 *
 * - the sweep reads the range of deadlines up to now less the clock margin (SeatHandOver) — the leases
 *   whose seats are free, and nothing else — a page at a time with several pages in flight, and ends them
 *   with one compare-guarded transaction each, handed to the batcher together (123 share a Raft proposal
 *   at etcd's default --max-txn-ops), where reading every live lease and ending them one by one cost
 *   O(live) reads and a transaction each;
 * - live listings page through the range after now, from a cursor;
 * - seat usage subtracts the overdue range (by the slot keys it names) from each pool's count of slot
 *   keys (`seatsHeld`).
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

  /**
   * Ends up to `limit` overdue leases, in deadline order: pages of the index range up to now less the
   * clock margin (a lease within it keeps its seat: SeatHandOver), several in flight (SWEEP_PAGE). A page
   * that fails (no quorum in its budget) fails the sweep once the others have settled; what they ended
   * stays ended, and the next sweep reads the range again.
   */
  async expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    await this.#backfill();
    const { ctx } = this;
    const { keys, gateway } = ctx;
    const to = keys.deadlinesThrough(ctx.handOver.freedDeadlineAt(now));
    // Settled as they end, so a page that fails while the next is being read is never an unhandled rejection.
    const pages: Promise<PromiseSettledResult<Lease[]>>[] = [];
    let from = keys.deadlines();
    let failure: { reason: unknown } | undefined;
    try {
      for (let left = limit; left > 0; ) {
        const [start, size] = [from, Math.min(left, SWEEP_PAGE)];
        const entries = await ctx.optimistic.run(async () => {
          const { results } = await gateway.read([{ from: start, to, limit: size }]);
          return results[0] ?? [];
        });
        if (entries.length > 0) pages.push(settle(this.#expirePage(entries, now, audit)));
        const last = entries.at(-1);
        if (entries.length < size || !last) break;
        left -= entries.length;
        from = `${last.key}\0`;
        await pages[pages.length - SWEEP_PAGES_IN_FLIGHT];
      }
    } catch (reason) {
      failure = { reason };
    }
    // Every page settles before the sweep answers, whatever failed: none is left running unobserved.
    const settled = await Promise.all(pages);
    failure ??= settled.find((p) => p.status === 'rejected');
    if (failure) throw failure.reason;
    return settled.flatMap((p) => (p.status === 'fulfilled' ? p.value : []));
  }

  /** One page of a sweep: its lease records (read in parallel), then one guarded end per entry. */
  async #expirePage(entries: KeyValue[], now: number, audit: AuditContext | undefined): Promise<Lease[]> {
    const { ctx } = this;
    const { keys, gateway } = ctx;
    const records = await ctx.optimistic.run(() =>
      this.#records(entries.map((e) => keys.lease(keys.indexedLeaseId(e.key)))),
    );
    const txns = entries.map((entry, i) => this.#sweepEntry(entry, records[i], now, audit));
    const settled = await ctx.optimistic.run(() => Promise.allSettled(gateway.txnMany(txns)));
    // A failed compare (renewed, released or taken over since the read) or an unknown outcome: the next
    // sweep reads the index again and decides afresh.
    return settled.flatMap((result, i) => {
      const expired = txns[i]?.expired;
      return expired && result.status === 'fulfilled' && result.value.succeeded ? [expired] : [];
    });
  }

  /**
   * Many records by key, in read transactions of RECORDS_PER_READ sent together (the gateway's getMany
   * sends them one after another). Not one snapshot across reads; callers compare before writing.
   */
  async #records(recordKeys: readonly string[]): Promise<(KeyValue | undefined)[]> {
    const reads: Promise<ReadAnswer>[] = [];
    for (let i = 0; i < recordKeys.length; i += RECORDS_PER_READ) {
      reads.push(this.ctx.gateway.read(recordKeys.slice(i, i + RECORDS_PER_READ).map((key) => ({ key }))));
    }
    return (await Promise.all(reads)).flatMap(({ results }) => results.map((r) => r[0]));
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
        compare: [{ key: keys.lease(keys.indexedLeaseId(entry.key)), target: 'Create', equals: 0 }],
        writes: [drop],
      };
    const lease = decodeLease(record);
    const unchanged: Compare[] = [{ key: record.key, target: 'Mod', equals: record.modRevision }];
    if (lease.endReason !== undefined) return { compare: unchanged, writes: [drop] };
    const at = this.leases.deadlineEntry(lease);
    if (at.put !== entry.key) return { compare: unchanged, writes: [drop, at] };
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
        gateway.getMany(entries.map((e) => keys.lease(keys.indexedLeaseId(e.key)))),
      );
      const txns = entries.map((entry, i) => {
        const record = records[i];
        if (!record) {
          const gone: Compare = {
            key: keys.lease(keys.indexedLeaseId(entry.key)),
            target: 'Create',
            equals: 0,
          };
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
      const records = await this.#records(entries.map((e) => keys.lease(keys.indexedLeaseId(e.key))));
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
   * Seats held at `now` in each of `pools` (slot-key prefixes), or undefined while the index is not filled
   * (the caller reads the lease records then). At one revision: each pool's slot keys counted (etcd
   * count-only ranges: no key comes back), less the pool's overdue entries — index entries up to now less
   * the clock margin, whose leases still have their slot key but no longer their seat (SeatHandOver).
   * Those are the sweep's backlog, usually none, so the read costs the pools and the backlog, never the
   * live leases (at 100,000 live leases reading their slot keys and index entries, paged, missed a 1.5 s
   * request budget: bench:scale --etcd run 4). Every lease that has a slot key has exactly one entry
   * (written, moved and removed by the transactions that grant, renew and end it), so the difference is
   * exact. An entry a node of an older version left behind (see the class comment) may count a lease
   * renewed there as past its deadline until a sweep repairs the entry: a usage figure, never a checkout
   * decision (those compare the slot keys).
   */
  seatsHeld(now: number, pools: readonly string[]): Promise<Map<string, number> | undefined> {
    const { ctx } = this;
    const { keys, gateway } = ctx;
    return ctx.optimistic.run(async () => {
      const { results, revision } = await gateway.read([{ key: keys.deadlineIndexReady() }]);
      if ((results[0]?.length ?? 0) === 0) return undefined;
      const overdueTo = keys.deadlinesThrough(ctx.handOver.freedDeadlineAt(now));
      const [counts, overdue] = await Promise.all([
        inTurns(pools, COUNTS_IN_FLIGHT, (pool) => gateway.count(pool, revision)),
        gateway.rangeBetweenAt(keys.deadlines(), overdueTo, revision),
      ]);
      const held = new Map(pools.map((pool, i) => [pool, counts[i] ?? 0]));
      const overduePools: (string | undefined)[] = [];
      const legacy: string[] = [];
      for (const kv of overdue) {
        const value = kv.value.toString();
        // An entry written before entries held their slot key names only the lease: its record says the pool.
        if (value.startsWith(keys.slots())) overduePools.push(value.slice(0, value.lastIndexOf('/') + 1));
        else legacy.push(keys.lease(keys.indexedLeaseId(kv.key)));
      }
      for (const kv of await this.#records(legacy)) {
        const lease = kv && decodeLease(kv);
        overduePools.push(lease && keys.pool(lease.licenseId, lease.feature));
      }
      for (const pool of overduePools) {
        const n = pool === undefined ? undefined : held.get(pool);
        if (pool !== undefined && n !== undefined) held.set(pool, Math.max(0, n - 1));
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
          const entry: WriteOp =
            lease.endReason === undefined
              ? this.leases.deadlineEntry(lease)
              : { put: keys.ended(lease.endedAt ?? lease.reservedUntil, lease.id), value: lease.id };
          return { compare, writes: [entry] };
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

/** `fn` over `items`, at most `width` at a time; the results in input order. */
async function inTurns<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** `promise`'s outcome as a value: a handler is attached at once, so a rejection is never unhandled. */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}
