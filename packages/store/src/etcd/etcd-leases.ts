import {
  type AuditContext,
  accessibleLease,
  assertRenewable,
  expiredLease,
  forceReleasedLease,
  holdsSeat,
  type Lease,
  LeaseholdError,
  leaseEndedEvent,
  leaseSoftRevokedEvent,
  releasedLease,
  renewedLease,
} from '@leasehold/domain';
import type { ForceReleaseInput, LeaseQuery, LeaseRef, SeatUsage } from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import type { EtcdContext } from './etcd-context.js';
import { type Compare, EtcdTransientError, type KeyValue, storeUnavailable } from './etcd-gateway.js';
import type { EtcdLicenses } from './etcd-licenses.js';
import { decodeLease, encodeLease } from './records.js';

/**
 * Granted leases in etcd: renew, release, force-release, expire and purge, and the queries over them.
 * A lease that holds a seat has a slot key pointing at it; every end deletes that key in the transaction
 * that writes the end, guarded by the lease record's mod revision and the slot key's value.
 */
export class EtcdLeases {
  constructor(
    private readonly ctx: EtcdContext,
    private readonly licenses: EtcdLicenses,
  ) {}

  /** One read of a lease record (inside an attempt of the caller's). */
  async read(id: string): Promise<Lease | undefined> {
    const { results } = await this.ctx.gateway.read([{ key: this.ctx.keys.lease(id) }]);
    const kv = results[0]?.[0];
    return kv && decodeLease(kv);
  }

  /** Reads a lease record (and the license revision) for an operation on it; applies the client scope. */
  async #forUpdate(ref: LeaseRef): Promise<{ kv: KeyValue; lease: Lease; licenseRev: number }> {
    const { results } = await this.ctx.gateway.read([
      { key: this.ctx.keys.lease(ref.leaseId) },
      { key: this.ctx.keys.licenseRev() },
    ]);
    const kv = results[0]?.[0];
    if (!kv) throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${ref.leaseId}"`);
    const lease = accessibleLease(decodeLease(kv), ref);
    return { kv, lease, licenseRev: results[1]?.[0]?.modRevision ?? 0 };
  }

  /** Compares that hold while a lease still owns its slot and its record is as read. */
  #owns(kv: KeyValue, lease: Lease): Compare[] {
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
    return ctx.optimistic.run(async () => {
      const { kv, lease, licenseRev } = await this.#forUpdate(input);
      const { licenses, rev } = await this.licenses.at(licenseRev);
      if (rev !== licenseRev) throw new Conflict();
      const license = licenses.find((l) => l.id === lease.licenseId);
      assertRenewable(lease, license, input.now);
      if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
      const renewed = renewedLease(lease, license, input.now);
      await ctx.commit(
        [...this.#owns(kv, lease), { key: ctx.keys.licenseRev(), target: 'Mod', equals: licenseRev }],
        [{ put: kv.key, value: encodeLease(renewed) }],
      );
      return renewed;
    });
  }

  release(input: LeaseRef): Promise<Lease> {
    return this.ctx.optimistic.run(async () => {
      const { kv, lease } = await this.#forUpdate(input);
      if (lease.endReason !== undefined) return lease;
      const result = releasedLease(lease, input.now);
      await this.#end(kv, lease, result, input.audit, input.now);
      return result;
    });
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const { kv, lease } = await this.#forUpdate(input);
      if (lease.endReason !== undefined) return lease;
      const result = forceReleasedLease(lease, input.now, input.immediate === true);
      if (result.endReason !== undefined) {
        await this.#end(kv, lease, result, input.audit, input.now);
        return result;
      }
      await ctx.commit(this.#owns(kv, lease), [
        { put: kv.key, value: encodeLease(result) },
        ...(lease.revokedAt === undefined
          ? [ctx.pending(leaseSoftRevokedEvent(ctx.actor(input.audit), lease, input.now))]
          : []),
      ]);
      return result;
    });
  }

  /** Writes a lease's end (`result`) and frees its slot, in one transaction. */
  async #end(
    kv: KeyValue,
    lease: Lease,
    result: Lease,
    audit: AuditContext | undefined,
    now: number,
  ): Promise<void> {
    const { ctx } = this;
    const reason = result.endReason;
    if (reason === undefined) throw new Error('#end needs a lease that ended');
    await ctx.commit(this.#owns(kv, lease), [
      { put: kv.key, value: encodeLease(result) },
      { delete: ctx.keys.slot(lease.licenseId, lease.feature, lease.slot) },
      ctx.pending(leaseEndedEvent(ctx.actor(audit), lease, reason, now)),
    ]);
  }

  get(id: string): Promise<Lease | undefined> {
    return this.ctx.optimistic.run(() => this.read(id));
  }

  async list(query: LeaseQuery): Promise<Lease[]> {
    const leases = query.includeEnded ? await this.#all() : await this.#live();
    return leases
      .filter((l) => query.includeEnded || holdsSeat(l, query.now))
      .filter((l) => query.licenseId === undefined || l.licenseId === query.licenseId)
      .filter((l) => query.feature === undefined || l.feature === query.feature)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .slice(0, query.limit ?? 10_000);
  }

  async #all(): Promise<Lease[]> {
    const { results } = await this.ctx.optimistic.run(() =>
      this.ctx.gateway.read([{ prefix: this.ctx.keys.leases() }]),
    );
    return (results[0] ?? []).map(decodeLease);
  }

  /** Leases that hold a slot key (live, or overdue and not yet swept), with their slot kvs. */
  async #liveEntries(): Promise<{ lease: Lease; kv: KeyValue }[]> {
    const { ctx } = this;
    return ctx.optimistic.run(async () => {
      const slots = await ctx.gateway.read([{ prefix: ctx.keys.slots() }]);
      const ids = (slots.results[0] ?? []).map((kv) => kv.value.toString());
      const records = await ctx.gateway.getMany(ids.map((id) => ctx.keys.lease(id)));
      return records.flatMap((kv) => (kv ? [{ kv, lease: decodeLease(kv) }] : []));
    });
  }

  async #live(): Promise<Lease[]> {
    return (await this.#liveEntries()).map((e) => e.lease);
  }

  async seatUsage(now: number): Promise<SeatUsage[]> {
    const [licenses, live] = await Promise.all([this.licenses.list(), this.#live()]);
    return licenses.flatMap((license) =>
      license.entitlements.map((e) => ({
        licenseId: license.id,
        feature: e.feature,
        seats: e.seats,
        inUse: live.filter((l) => l.licenseId === license.id && l.feature === e.feature && holdsSeat(l, now))
          .length,
      })),
    );
  }

  async expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    const overdue = (await this.#liveEntries())
      .filter(({ lease }) => lease.endReason === undefined && now >= lease.reservedUntil)
      .sort((a, b) => a.lease.reservedUntil - b.lease.reservedUntil)
      .slice(0, limit);
    const expired: Lease[] = [];
    for (const { kv, lease } of overdue) {
      const result = expiredLease(lease);
      try {
        await this.ctx.optimistic.run(() => this.#end(kv, lease, result, audit, now));
        expired.push(result);
      } catch (err) {
        // Someone else ended or renewed it first (or etcd is away): the next sweep looks again.
        if (!(err instanceof LeaseholdError)) throw err;
      }
    }
    return expired;
  }

  /**
   * Deletes leases that ended before `before`, with their request keys. A record changed since it was
   * read is left for the next purge. A transient etcd error stops the purge with STORE_UNAVAILABLE (the
   * sweeper logs it and purges again later); any other error is a bug and is thrown as it is.
   */
  async purge(before: number): Promise<number> {
    const { ctx } = this;
    const { results } = await ctx.optimistic.run(() => ctx.gateway.read([{ prefix: ctx.keys.leases() }]));
    let purged = 0;
    for (const kv of results[0] ?? []) {
      const lease = decodeLease(kv);
      if (lease.endedAt === undefined || lease.endedAt >= before) continue;
      try {
        const done = await ctx.gateway.txn(
          [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
          [
            { delete: kv.key },
            { delete: ctx.keys.request(lease.client.id, lease.requestId, lease.licenseId) },
            { delete: ctx.keys.legacyRequest(lease.client.id, lease.requestId) },
          ],
        );
        if (done.succeeded) purged++;
      } catch (err) {
        if (err instanceof EtcdTransientError) throw storeUnavailable(err);
        throw err;
      }
    }
    return purged;
  }
}
