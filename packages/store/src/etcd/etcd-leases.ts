import {
  type AuditContext,
  accessibleLease,
  assertRenewable,
  forceReleasedLease,
  type InstalledLicense,
  type Lease,
  LeaseholdError,
  leaseEndedEvent,
  leaseSoftRevokedEvent,
  releasedLease,
  renewedLease,
} from '@leasehold/domain';
import type {
  ForceReleaseInput,
  LeaseQuery,
  LeaseRef,
  RenewOutcome,
  SeatUsage,
} from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import type { EtcdContext } from './etcd-context.js';
import type { EtcdEpochs } from './etcd-epoch.js';
import type { Compare, KeyValue, WriteOp } from './etcd-gateway.js';
import { EtcdLeaseIndex } from './etcd-lease-index.js';
import type { EtcdLicenses } from './etcd-licenses.js';
import { type Renewal, renewMany } from './etcd-renew-many.js';
import type { CachedLease, LeaseRecordCache } from './lease-record-cache.js';
import { decodeLease, encodeLease } from './records.js';

/**
 * Granted leases in etcd: renew (one or many), release, force-release and purge; expiry and listings go
 * through the deadline index (etcd-lease-index.ts), which every write here keeps in step.
 * A lease that holds a seat has a slot key pointing at it; every end deletes that key in the transaction
 * that writes the end, guarded by the lease record's mod revision and the slot key's value.
 * A renewal of a lease this node granted or renewed last goes straight to its write (lease-record-cache.ts).
 * Every write here but the sweep's and purge's also compares the fencing epoch it decided by
 * (etcd-epoch.ts), as SQLite guards the same operations.
 */
export class EtcdLeases {
  /** The deadline index: sweeps and live listings (etcd-lease-index.ts). */
  readonly #index: EtcdLeaseIndex;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly licenses: EtcdLicenses,
    /** Records this node wrote last: a renewal's read skipped when its compare still holds. */
    readonly cache: LeaseRecordCache,
    /** The fencing epoch every renewal, release and force-release checks and compares. */
    private readonly epochs: EtcdEpochs,
  ) {
    this.#index = new EtcdLeaseIndex(ctx, this);
  }

  /** One read of a lease record (inside an attempt of the caller's). */
  async read(id: string): Promise<Lease | undefined> {
    const { results } = await this.ctx.gateway.read([{ key: this.ctx.keys.lease(id) }]);
    const kv = results[0]?.[0];
    return kv && decodeLease(kv);
  }

  /**
   * Reads a lease record, the license revision and the fencing epoch for an operation on it, in one read;
   * refuses by the epoch first (as SQLite's guard, before the lease is looked at), then applies the client
   * scope. `epoch` is the compare the operation's transaction carries.
   */
  async #forUpdate(
    ref: LeaseRef,
  ): Promise<{ kv: KeyValue; lease: Lease; licenseRev: number; epoch: Compare }> {
    const { results } = await this.ctx.gateway.read([
      { key: this.ctx.keys.lease(ref.leaseId) },
      { key: this.ctx.keys.licenseRev() },
      this.epochs.read(),
    ]);
    const epoch = this.epochs.check(results[2]?.[0], ref.now, false);
    const kv = results[0]?.[0];
    if (!kv) throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${ref.leaseId}"`);
    const lease = accessibleLease(decodeLease(kv), ref);
    return { kv, lease, licenseRev: results[1]?.[0]?.modRevision ?? 0, epoch };
  }

  /** Compares that hold while a lease still owns its slot and its record is as read. */
  #owns(kv: Pick<KeyValue, 'key' | 'modRevision'>, lease: Lease): Compare[] {
    return [
      { key: kv.key, target: 'Mod', equals: kv.modRevision },
      {
        key: this.ctx.keys.slot(lease.licenseId, lease.feature, lease.slot),
        target: 'Value',
        equals: lease.id,
      },
    ];
  }

  renew(input: LeaseRef): Promise<Lease> {
    const { ctx } = this;
    let round = 0;
    return ctx.optimistic.run(async () => {
      if (round++ === 0) {
        const fast = await this.#cachedRenewal(input);
        if (fast) return fast;
      }
      // A failed compare (the epoch's included) re-reads here, and a fence then answers PRIMARY_FENCED.
      const { kv, lease, licenseRev, epoch } = await this.#forUpdate(input);
      const { licenses, rev } = await this.licenses.at(licenseRev);
      if (rev !== licenseRev) throw new Conflict();
      const { renewed, compare, writes } = this.#renewal(kv, lease, licenses, licenseRev, epoch, input);
      this.cache.remember(await ctx.commit(compare, writes), renewed);
      return renewed;
    });
  }

  /**
   * The one-round-trip renewal: the lease as this node last wrote it and the licenses as last read, decided
   * by the same rules as after a read, written under the same compares (the record's mod revision, the
   * slot key's value, the license revision, the fencing epoch). Those compares hold only if etcd still has
   * exactly what the decision used, so the result is the one a read would have given. Anything else — no
   * entry, no copy of the epoch, a cached refusal (not trusted: stale data may refuse wrongly), a failed
   * compare — answers undefined and the caller reads; an unknown outcome throws, and the retry reads (the
   * entry was taken out first).
   */
  async #cachedRenewal(input: LeaseRef): Promise<Lease | undefined> {
    const snapshot = this.licenses.cached;
    const epoch = this.epochs.cached(input.now, false);
    const entry: CachedLease | undefined =
      snapshot.rev < 0 || !epoch ? undefined : this.cache.take(input.leaseId);
    if (!entry || !epoch) return undefined;
    let planned: Renewal;
    try {
      const lease = accessibleLease(entry.lease, input);
      planned = this.#renewal(entry, lease, snapshot.licenses, snapshot.rev, epoch, input);
    } catch (err) {
      if (err instanceof LeaseholdError) return undefined;
      throw err;
    }
    const result = await this.ctx.gateway.txn(planned.compare, planned.writes);
    if (!result.succeeded) {
      this.cache.stats.stale++;
      return undefined;
    }
    this.cache.remember(result.revision, planned.renewed);
    return planned.renewed;
  }

  /** Renews several leases: cached ones with no read, the rest after one read (etcd-renew-many.ts). */
  renewMany(inputs: readonly LeaseRef[]): Promise<RenewOutcome[]> {
    return renewMany(
      {
        ctx: this.ctx,
        licenses: this.licenses,
        cache: this.cache,
        epochs: this.epochs,
        plan: (kv, lease, licenses, licenseRev, epoch, input) =>
          this.#renewal(kv, lease, licenses, licenseRev, epoch, input),
        renewOne: (input) => this.renew(input),
      },
      inputs,
    );
  }

  /**
   * The renewal of one lease as read: the renewed lease and its compare-guarded transaction (`epoch`: the
   * compare on the fencing epoch the renewal was allowed by).
   */
  #renewal(
    kv: Pick<KeyValue, 'key' | 'modRevision'>,
    lease: Lease,
    licenses: readonly InstalledLicense[],
    licenseRev: number,
    epoch: Compare,
    input: Pick<LeaseRef, 'now' | 'holdMs'>,
  ): Renewal {
    const { ctx } = this;
    const license = licenses.find((l) => l.id === lease.licenseId);
    assertRenewable(lease, license, input.now);
    if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
    // A seat block's seat renews for its fixed hold (no grace): the deadline index below moves to that
    // deadline, so the sweep frees the seat only after the edge stopped lending it.
    const renewed = renewedLease(lease, license, input.now, input.holdMs);
    return {
      renewed,
      compare: [
        ...this.#owns(kv, lease),
        { key: ctx.keys.licenseRev(), target: 'Mod', equals: licenseRev },
        epoch,
      ],
      writes: [{ put: kv.key, value: encodeLease(renewed) }, ...this.#indexMove(lease, renewed)],
    };
  }

  /** The deadline index follows a renewal to its later deadline (unchanged deadline: no write). */
  #indexMove(before: Lease, after: Lease): WriteOp[] {
    if (before.reservedUntil === after.reservedUntil) return [];
    return [{ delete: this.ctx.keys.deadline(before.reservedUntil, before.id) }, this.deadlineEntry(after)];
  }

  /**
   * A lease's entry in the deadline index, valued with its slot key: seat usage subtracts the overdue
   * entries from each pool's count of slot keys by that value, without reading their lease records.
   */
  deadlineEntry(lease: Lease): { readonly put: string; readonly value: string } {
    const { keys } = this.ctx;
    return {
      put: keys.deadline(lease.reservedUntil, lease.id),
      value: keys.slot(lease.licenseId, lease.feature, lease.slot),
    };
  }

  /**
   * The index writes of a lease that ends (`ended` is its ended copy): out of the deadline index, into
   * the end index that purge reads. Part of every transaction that ends a lease, the checkout's takeover
   * of an expired slot included.
   */
  indexEnd(lease: Lease, ended: Lease): WriteOp[] {
    const { keys } = this.ctx;
    return [
      { delete: keys.deadline(lease.reservedUntil, lease.id) },
      { put: keys.ended(ended.endedAt ?? ended.reservedUntil, lease.id), value: lease.id },
    ];
  }

  release(input: LeaseRef): Promise<Lease> {
    return this.ctx.optimistic.run(async () => {
      const { kv, lease, epoch } = await this.#forUpdate(input);
      if (lease.endReason !== undefined) return lease;
      const result = releasedLease(lease, input.now);
      await this.#end(kv, lease, result, epoch, input.audit, input.now);
      return result;
    });
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const { kv, lease, epoch } = await this.#forUpdate(input);
      if (lease.endReason !== undefined) return lease;
      const result = forceReleasedLease(lease, input.now, input.immediate === true, ctx.handOver);
      if (result.endReason !== undefined) {
        await this.#end(kv, lease, result, epoch, input.audit, input.now);
        return result;
      }
      this.cache.forget(lease.id);
      await ctx.commit(
        [...this.#owns(kv, lease), epoch],
        [
          { put: kv.key, value: encodeLease(result) },
          ...(lease.revokedAt === undefined
            ? [ctx.pending(leaseSoftRevokedEvent(ctx.actor(input.audit), lease, input.now))]
            : []),
        ],
      );
      return result;
    });
  }

  /** Writes a lease's end (`result`) and frees its slot, in one transaction, under the epoch's compare. */
  async #end(
    kv: KeyValue,
    lease: Lease,
    result: Lease,
    epoch: Compare,
    audit: AuditContext | undefined,
    now: number,
  ): Promise<void> {
    const { ctx } = this;
    this.cache.forget(lease.id);
    await ctx.commit([...this.#owns(kv, lease), epoch], this.endWrites(kv, lease, result, audit, now));
  }

  /** What ending a lease writes, in one transaction guarded by `#owns` (the sweep batches these). */
  endWrites(
    kv: KeyValue,
    lease: Lease,
    result: Lease,
    audit: AuditContext | undefined,
    now: number,
  ): WriteOp[] {
    const { ctx } = this;
    const reason = result.endReason;
    if (reason === undefined) throw new Error('endWrites needs a lease that ended');
    return [
      { put: kv.key, value: encodeLease(result) },
      { delete: ctx.keys.slot(lease.licenseId, lease.feature, lease.slot) },
      ...this.indexEnd(lease, result),
      ctx.pending(leaseEndedEvent(ctx.actor(audit), lease, reason, now)),
    ];
  }

  /** Compares that hold while a lease still owns its slot and its record is as read. */
  owns(kv: KeyValue, lease: Lease): Compare[] {
    return this.#owns(kv, lease);
  }

  get(id: string): Promise<Lease | undefined> {
    return this.ctx.optimistic.run(() => this.read(id));
  }

  list(query: LeaseQuery): Promise<Lease[]> {
    return this.#index.list(query);
  }

  expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    return this.#index.expire(now, limit, audit);
  }

  /**
   * Seats held at `now` per pool: each pool's slot keys counted by etcd, less the overdue entries of the
   * deadline index (etcd-lease-index.ts `seatsHeld`) — reads that grow with the pools and the sweep's
   * backlog, not with the live leases. The lease records are read only on a cluster whose index is not
   * filled yet (before the first sweep of a node that has it). Reading every live record cost a read per
   * 100 leases, in turn, under the request's one budget (bench:ha's license install answered 503 at
   * ~16,000 live leases); reading every slot key and index entry, paged, missed it at 100,000
   * (bench:scale --etcd run 4).
   */
  async seatUsage(now: number): Promise<SeatUsage[]> {
    const licenses = await this.licenses.list();
    const usage = licenses.flatMap((license) =>
      license.entitlements.map((e) => ({
        licenseId: license.id,
        feature: e.feature,
        seats: e.seats,
        pool: this.ctx.keys.pool(license.id, e.feature),
      })),
    );
    const held =
      (await this.#index.seatsHeld(
        now,
        usage.map((u) => u.pool),
      )) ?? (await this.#seatsHeldByRecords(now));
    return usage.map(({ pool, ...u }) => ({ ...u, inUse: held.get(pool) ?? 0 }));
  }

  /** The same count from the lease records behind every slot key (a cluster whose index is not filled). */
  #seatsHeldByRecords(now: number): Promise<Map<string, number>> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const slots = await ctx.gateway.read([{ prefix: ctx.keys.slots() }]);
      const ids = (slots.results[0] ?? []).map((kv) => kv.value.toString());
      const records = await ctx.gateway.getMany(ids.map((id) => ctx.keys.lease(id)));
      const held = new Map<string, number>();
      for (const kv of records) {
        const lease = kv && decodeLease(kv);
        if (!lease || !ctx.handOver.occupies(lease, now)) continue;
        const pool = ctx.keys.pool(lease.licenseId, lease.feature);
        held.set(pool, (held.get(pool) ?? 0) + 1);
      }
      return held;
    });
  }

  /** Forgets leases that ended before `before`, found through the end index (etcd-lease-index.ts). */
  purge(before: number): Promise<number> {
    return this.#index.purge(before);
  }
}
