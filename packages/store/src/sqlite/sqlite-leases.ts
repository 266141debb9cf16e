import {
  type AuditContext,
  accessibleLease,
  assertRenewable,
  cappedLease,
  forceReleasedLease,
  type Lease,
  type LeaseEndReason,
  LeaseholdError,
  leaseEndedEvent,
  leaseSoftRevokedEvent,
  releasedLease,
  renewedLease,
} from '@leasehold/domain';
import { assertDistinctLeases } from '../port/distinct-leases.js';
import { DEFAULT_LIST_LIMIT, parseLeaseCursor } from '../port/lease-cursor.js';
import type {
  ForceReleaseInput,
  LeaseQuery,
  LeaseRef,
  RenewOutcome,
  SeatUsage,
} from '../port/lease-store.js';
import { type LeaseRow, leaseFromRow } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';
import type { SqliteLicenses } from './sqlite-licenses.js';

/**
 * Granted leases in SQLite: renew, release, force-release, expire and purge, and the queries over them.
 * A pool's `live` count and its free-slot list change only in `end`, so every way a lease ends gives its
 * slot back the same way.
 */
export class SqliteLeases {
  constructor(
    private readonly ctx: SqliteContext,
    private readonly licenses: SqliteLicenses,
  ) {}

  /** The lease `ref` names, as its caller may see it (license scope, owning client). */
  #lease(ref: LeaseRef): Lease {
    const row = this.ctx.sql.getLease.get(ref.leaseId) as LeaseRow | undefined;
    return accessibleLease(row && leaseFromRow(row), ref);
  }

  /**
   * Ends one live lease and gives its slot back to its pool (inside the caller's write). Every way a lease
   * ends goes through here.
   */
  end(lease: Lease, at: number, reason: LeaseEndReason, audit: AuditContext | undefined, now: number): void {
    const { ctx } = this;
    if (ctx.sql.endLease.run(at, reason, lease.id).changes === 0) return;
    ctx.sql.returnSlotToPool.run(lease.licenseId, lease.feature);
    ctx.sql.addFreeSlot.run(lease.licenseId, lease.feature, lease.slot);
    ctx.changes.lease(lease.id);
    ctx.record(leaseEndedEvent(ctx.actor(audit), lease, reason, now));
  }

  /** Ends `lease` as `result` says (an ended copy of it). */
  #endAs(lease: Lease, result: Lease, audit: AuditContext | undefined, now: number): void {
    if (result.endReason === undefined || result.endedAt === undefined)
      throw new Error('the lease did not end');
    this.end(lease, result.endedAt, result.endReason, audit, now);
  }

  renew(input: LeaseRef): Promise<Lease> {
    return this.licenses.deciding(() => this.ctx.conn.write(() => this.#renewNow(input)));
  }

  /**
   * Several renewals in one transaction (one fsync). A renewal refused by the rules throws before it
   * writes anything, so catching it per lease leaves the others' writes whole; any other error (SQLite's
   * own) fails the transaction, and so every lease of it, as one unknown outcome.
   */
  async renewMany(inputs: readonly LeaseRef[]): Promise<RenewOutcome[]> {
    assertDistinctLeases(inputs);
    return this.licenses.deciding(() =>
      this.ctx.conn.write(() =>
        inputs.map((input): RenewOutcome => {
          try {
            return { ok: true, lease: this.#renewNow(input) };
          } catch (err) {
            if (err instanceof LeaseholdError) return { ok: false, error: err };
            throw err;
          }
        }),
      ),
    );
  }

  /** One renewal, inside the caller's write. */
  #renewNow(input: LeaseRef): Lease {
    const { ctx } = this;
    ctx.epochs.guard(input.now, false);
    const lease = this.#lease(input);
    const license = this.licenses.verifiedOne(lease.licenseId);
    assertRenewable(lease, license, input.now);
    if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
    // A seat block's seat renews for its fixed hold, no grace (seat-blocks.ts); an edge node's own leases
    // stay inside the block they draw on.
    const renewed = this.#withinBlock(
      lease,
      renewedLease(lease, license, input.now, input.holdMs),
      input.now,
    );
    ctx.conn.nextRevision();
    ctx.sql.renewLease.run(input.now, renewed.expiresAt, renewed.reservedUntil, renewed.graceMs, lease.id);
    // The row now reads back as `renewed`: the update wrote exactly its changed fields.
    ctx.changes.leaseWritten(renewed);
    return renewed;
  }

  /**
   * On an edge node, a renewal stays inside its block: never past the block's deadline, and only while the
   * pool holds no more live leases than the block has seats (after a shrink or a partial renewal at the
   * primary, the leases over the count run out at the old deadline instead of moving onto seats the
   * block no longer has; docs/replication.md).
   */
  #withinBlock(lease: Lease, renewed: Lease, now: number): Lease {
    const { ctx } = this;
    const cap = ctx.seatCap?.capFor(lease.licenseId, lease.feature, now);
    if (cap === undefined) return renewed;
    if (cap.until <= now) {
      throw new LeaseholdError('SEAT_BLOCK_EXPIRED', `the seat block of "${lease.feature}" ran out`);
    }
    const live = () =>
      (ctx.sql.getPool.get(lease.licenseId, lease.feature) as { live: number } | undefined)?.live ?? 0;
    if (live() > cap.seats) {
      const expiry = { actor: 'system:expiry', node: ctx.node };
      const freedBy = ctx.handOver.freedDeadlineAt(now);
      for (const row of ctx.sql.overdueInPool.all(lease.licenseId, lease.feature, freedBy) as LeaseRow[]) {
        this.end(leaseFromRow(row), row.reserved_until, 'expired', expiry, now);
      }
      if (live() > cap.seats) {
        throw new LeaseholdError(
          'SEAT_BLOCK_FULL',
          `the seat block of "${lease.feature}" has fewer seats now`,
        );
      }
    }
    return cappedLease(renewed, Math.max(cap.until, lease.reservedUntil));
  }

  release(input: LeaseRef): Promise<Lease> {
    return this.ctx.conn.write(() => {
      this.ctx.epochs.guard(input.now, false);
      const lease = this.#lease(input);
      if (lease.endReason !== undefined) return lease;
      const result = releasedLease(lease, input.now);
      this.ctx.conn.nextRevision();
      this.#endAs(lease, result, input.audit, input.now);
      return result;
    });
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      ctx.epochs.guard(input.now, false);
      const lease = this.#lease(input);
      if (lease.endReason !== undefined) return lease;
      const result = forceReleasedLease(lease, input.now, input.immediate === true, ctx.handOver);
      ctx.conn.nextRevision();
      if (result.endReason !== 'expired') ctx.sql.revokeLease.run(input.now, lease.id);
      ctx.changes.lease(lease.id);
      if (result.endReason !== undefined) {
        this.#endAs(lease, result, input.audit, input.now);
      } else if (lease.revokedAt === undefined) {
        ctx.record(leaseSoftRevokedEvent(ctx.actor(input.audit), lease, input.now));
      }
      return result;
    });
  }

  get(id: string): Promise<Lease | undefined> {
    return this.ctx.conn.read(() => {
      const row = this.ctx.sql.getLease.get(id) as LeaseRow | undefined;
      return row && leaseFromRow(row);
    });
  }

  /** A page of leases: live ones along the deadline index, or all by id (see `LeaseStore.listLeases`). */
  list(query: LeaseQuery): Promise<Lease[]> {
    return this.ctx.conn.read(() => {
      const includeEnded = query.includeEnded === true;
      const after = query.after === undefined ? undefined : parseLeaseCursor(query.after, includeEnded);
      const filters = {
        license_id: query.licenseId ?? null,
        feature: query.feature ?? null,
        limit: query.limit ?? DEFAULT_LIST_LIMIT,
      };
      const rows = (
        includeEnded
          ? this.ctx.sql.listAllLeases.all({ ...filters, after_id: after?.id ?? '' })
          : this.ctx.sql.listLiveLeases.all({
              ...filters,
              now: query.now,
              after_deadline: after?.kind === 'deadline' ? after.reservedUntil : -1,
              after_id: after?.id ?? '',
            })
      ) as LeaseRow[];
      return rows.map(leaseFromRow);
    });
  }

  /** Seat counts as the licenses' signatures say them (never the entitlement rows), and live leases. */
  async seatUsage(now: number): Promise<SeatUsage[]> {
    await this.licenses.ready();
    return this.ctx.conn.read(() => {
      // A lease past its deadline but within the clock margin still keeps its seat from everyone else.
      const rows = this.ctx.sql.inUseByPool.all(this.ctx.handOver.freedDeadlineAt(now)) as {
        license_id: string;
        feature: string;
        in_use: number;
      }[];
      const inUse = new Map(rows.map((r) => [`${r.license_id}\u0000${r.feature}`, r.in_use]));
      return this.licenses.all().flatMap((license) =>
        license.entitlements.map((e) => ({
          licenseId: license.id,
          feature: e.feature,
          seats: e.seats,
          inUse: inUse.get(`${license.id}\u0000${e.feature}`) ?? 0,
        })),
      );
    });
  }

  expire(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      const rows = ctx.sql.overdueLeases.all(ctx.handOver.freedDeadlineAt(now), limit) as LeaseRow[];
      if (rows.length === 0) return [];
      ctx.conn.nextRevision();
      return rows.map((row) => {
        const lease = leaseFromRow(row);
        this.end(lease, lease.reservedUntil, 'expired', audit, now);
        return leaseFromRow({ ...row, ended_at: row.reserved_until, end_reason: 'expired' });
      });
    });
  }

  purge(before: number): Promise<number> {
    const { ctx } = this;
    return ctx.conn.write(() => {
      // Each purged lease is a deletion in the change feed: a replica forgets it too.
      const ids = ctx.sql.endedBefore.all(before) as { id: string }[];
      if (ids.length === 0) return 0;
      ctx.conn.nextRevision();
      const purged = ctx.sql.purgeEnded.run(before).changes;
      for (const { id } of ids) ctx.changes.lease(id);
      return purged;
    });
  }
}
