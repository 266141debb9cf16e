import {
  assertSameCheckout,
  cappedLease,
  checkoutCandidates,
  grantedLease,
  LeaseholdError,
  leaseGrantedEvent,
  seatsExhausted,
  seatsFor,
} from '@leasehold/domain';
import type { AcquireSeatInput, AcquireSeatResult } from '../port/lease-store.js';
import { type LeaseRow, leaseFromRow, rowOfLease } from './rows.js';
import type { SqliteContext } from './sqlite-context.js';
import type { SqliteLeases } from './sqlite-leases.js';
import type { SqliteLicenses } from './sqlite-licenses.js';

/**
 * The seat-pool checkout in SQLite. A pool row counts its live leases and remembers the highest slot ever
 * used; slots given back sit in `free_slots`. A grant takes the lowest free slot below the seat count, or
 * a new one above the high-water mark, all inside one write transaction.
 */
export class SqliteCheckout {
  constructor(
    private readonly ctx: SqliteContext,
    private readonly licenses: SqliteLicenses,
    private readonly leases: SqliteLeases,
  ) {}

  acquire(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    return this.licenses.deciding(() => this.ctx.conn.write(() => this.#acquireNow(input)));
  }

  /** One checkout, inside the caller's write. */
  #acquireNow(input: AcquireSeatInput): AcquireSeatResult {
    const { ctx } = this;
    // A fenced primary grants nothing; a promoted one nothing new while it learns (docs/replication.md).
    ctx.epochs.guard(input.now, true);
    // Idempotency keys are per license (issue 11); a checkout naming no license sees every license's.
    const previous = (
      ctx.sql.leasesByRequest.all({
        client_id: input.client.id,
        request_id: input.requestId,
        license_id: input.licenseId ?? null,
      }) as LeaseRow[]
    ).map(leaseFromRow);
    const earlier = previous.find((l) => l.feature === input.feature) ?? previous[0];
    if (earlier) {
      assertSameCheckout(earlier, input);
      return { lease: earlier, replayed: true };
    }
    const candidates = checkoutCandidates(
      this.licenses.verifiedAll(),
      input.feature,
      input.licenseId,
      input.now,
    );
    let seats = 0;
    let blockExpired = false;
    for (const license of candidates) {
      // On an edge node, a pool lends only the seats of the block it holds, and only until the block's
      // deadline on this node's clock (docs/replication.md).
      const cap = ctx.seatCap?.capFor(license.id, input.feature, input.now);
      const expired = cap !== undefined && cap.until <= input.now;
      blockExpired ||= expired && cap.seats > 0;
      const licensed = seatsFor(license, input.feature);
      const lendable = cap === undefined ? licensed : expired ? 0 : Math.min(licensed, cap.seats);
      seats += lendable;
      const slot = this.#freeSlot(license.id, input.feature, lendable, input.now);
      if (slot === undefined) continue;
      const granted = grantedLease(
        license,
        { ...input, grantedBy: ctx.actor(input.audit).node },
        slot,
        ctx.conn.nextRevision(),
      );
      const row = rowOfLease(cap === undefined ? granted : cappedLease(granted, cap.until));
      ctx.sql.insertLease.run(row);
      const lease = leaseFromRow(row);
      ctx.changes.leaseWritten(lease);
      ctx.sql.removeFreeSlot.run(license.id, input.feature, slot);
      ctx.sql.takeSlotFromPool.run({ license_id: license.id, feature: input.feature, slot });
      ctx.record(leaseGrantedEvent(ctx.actor(input.audit), lease, input.now));
      return { lease, replayed: false };
    }
    if (ctx.seatCap !== undefined) throw blockRefusal(input.feature, seats, blockExpired);
    throw seatsExhausted(input.feature, seats);
  }

  /**
   * The slot a new lease of this pool gets, or undefined when the pool is full. Overdue leases are ended
   * only when the pool looks full: until then a free seat exists anyway, and the sweeper ends them. Overdue
   * means past its deadline by the clock margin (SeatHandOver), not merely past it.
   */
  #freeSlot(licenseId: string, feature: string, seats: number, now: number): number | undefined {
    const { sql } = this.ctx;
    sql.ensurePool.run(licenseId, feature);
    let pool = sql.getPool.get(licenseId, feature) as { live: number; high_water: number };
    if (pool.live >= seats) {
      const expiry = { actor: 'system:expiry', node: this.ctx.node };
      const freedBy = this.ctx.handOver.freedDeadlineAt(now);
      for (const row of sql.overdueInPool.all(licenseId, feature, freedBy) as LeaseRow[]) {
        this.leases.end(leaseFromRow(row), row.reserved_until, 'expired', expiry, now);
      }
      pool = sql.getPool.get(licenseId, feature) as { live: number; high_water: number };
      if (pool.live >= seats) return undefined;
    }
    const reused = sql.lowestFreeSlot.get(licenseId, feature, seats) as { slot: number } | undefined;
    if (reused) return reused.slot;
    // No ended slot below the seat count: take a new one. (A downgraded license may leave live leases
    // above it; they count in `live`, so this never grants past the seat count.)
    return pool.high_water < seats ? pool.high_water : undefined;
  }
}

/** Why an edge node grants nothing: its block ran out (the link to the primary is cut), or it is full. */
function blockRefusal(feature: string, seats: number, expired: boolean): LeaseholdError {
  if (expired) {
    return new LeaseholdError('SEAT_BLOCK_EXPIRED', `the seat block of "${feature}" ran out`, { feature });
  }
  return new LeaseholdError('SEAT_BLOCK_FULL', `all ${seats} seats of the block of "${feature}" are in use`, {
    feature,
    seats,
  });
}
