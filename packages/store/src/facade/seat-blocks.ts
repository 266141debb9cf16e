import { holdsSeat, type Lease, LeaseholdError } from '@leasehold/domain';
import { DEFAULT_LIST_LIMIT, leaseCursor } from '../port/lease-cursor.js';
import type { LeaseQuery, SeatBlock, SeatBlockInput, SeatBlockRef } from '../port/lease-store.js';
import { SEAT_BLOCK_CLIENT_PREFIX } from '../port/seat-cap.js';
import type { StoreCollaborators } from './routed-store.js';

/**
 * Seat blocks lent to edge sites, written once for both backends over their lease operations. A block of
 * N seats is N ordinary leases of the pool, held by client `edge:<site>` for a fixed hold with no grace:
 * each seat is taken, renewed and given back by the backend's own atomic operation, so the pool's count
 * (and with it invariant 1, no oversubscription) covers blocks without a line of new accounting.
 *
 * The block as a whole is not one transaction, and need not be: the answer counts exactly the seats this
 * call held until `now + holdMs`, and the edge lends only those (a seat whose renewal failed still ends
 * at its old deadline, which the edge's clock passed first).
 */
export class SeatBlocks {
  constructor(private readonly parts: StoreCollaborators) {}

  async hold(input: SeatBlockInput): Promise<SeatBlock> {
    if (!Number.isInteger(input.seats) || input.seats < 0)
      throw new TypeError('seats must be an integer >= 0');
    if (!(input.holdMs > 0)) throw new TypeError('holdMs must be > 0');
    const client = clientOf(input.site);
    const held = await this.#held(input);
    const keep = held.slice(0, input.seats);
    // A shrink: seats above the wanted count go back to the pool now. The edge asks for fewer seats only
    // after it stopped lending them (edge/seat-block-keeper.ts), so none of them backs a local lease.
    await Promise.all(
      held
        .slice(input.seats)
        .map((lease) => this.parts.leases.release({ ...refOf(input, lease), audit: input.audit })),
    );
    const result = new Map<string, Lease>();
    const renewed = await Promise.allSettled(
      keep.map((lease) => this.parts.leases.renew({ ...refOf(input, lease), holdMs: input.holdMs })),
    );
    for (const outcome of renewed) {
      if (outcome.status === 'fulfilled') result.set(outcome.value.id, outcome.value);
      else if (!isSeatRefusal(outcome.reason)) throw outcome.reason;
    }
    // A grow (or seats lost since): take free seats one by one until the block is whole or the pool is
    // full. Request ids are the site's request id and a counter, so a retried request replays its seats.
    for (let k = 0; result.size < input.seats && k < input.seats + held.length; k++) {
      try {
        const { lease } = await this.parts.checkout.acquire({
          leaseId: input.newLeaseId(),
          requestId: `block:${input.requestId}:${k}`,
          feature: input.feature,
          licenseId: input.licenseId,
          client,
          now: input.now,
          holdMs: input.holdMs,
          audit: input.audit,
        });
        if (holdsSeat(lease, input.now)) result.set(lease.id, lease);
      } catch (err) {
        if (err instanceof LeaseholdError && err.code === 'SEATS_EXHAUSTED') break;
        if (result.size === 0) throw err;
        break;
      }
    }
    return blockOf(input, [...result.values()]);
  }

  async release(input: SeatBlockRef): Promise<SeatBlock> {
    const held = await this.#held(input);
    await Promise.all(
      held.map((lease) => this.parts.leases.release({ ...refOf(input, lease), audit: input.audit })),
    );
    return blockOf(input, []);
  }

  async list(now: number): Promise<SeatBlock[]> {
    const leases = await this.#live({ now });
    const blocks = new Map<string, { ref: SeatBlockRef; leases: Lease[] }>();
    for (const lease of leases) {
      if (!lease.client.id.startsWith(SEAT_BLOCK_CLIENT_PREFIX) || !holdsSeat(lease, now)) continue;
      const site = lease.client.id.slice(SEAT_BLOCK_CLIENT_PREFIX.length);
      const key = JSON.stringify([site, lease.licenseId, lease.feature]);
      const entry = blocks.get(key) ?? {
        ref: { site, licenseId: lease.licenseId, feature: lease.feature, now },
        leases: [],
      };
      entry.leases.push(lease);
      blocks.set(key, entry);
    }
    return [...blocks.values()].map(({ ref, leases: held }) => blockOf(ref, held));
  }

  /** The site's live seats of the (license, feature), oldest first (a shrink gives back the newest). */
  async #held(ref: SeatBlockRef): Promise<Lease[]> {
    const client = clientOf(ref.site).id;
    const leases = await this.#live({ now: ref.now, licenseId: ref.licenseId, feature: ref.feature });
    return leases
      .filter((l) => l.client.id === client && holdsSeat(l, ref.now) && l.revokedAt === undefined)
      .sort((a, b) => a.createdAt - b.createdAt || a.slot - b.slot);
  }

  /**
   * Every live lease of the query, page by page (listings are paged, DEFAULT_LIST_LIMIT a page): a block
   * larger than one page must not look smaller. A lease renewed between pages shows twice; kept once.
   */
  async #live(query: LeaseQuery): Promise<Lease[]> {
    const found = new Map<string, Lease>();
    let after: string | undefined;
    for (;;) {
      const page = await this.parts.leases.list({ ...query, limit: DEFAULT_LIST_LIMIT, after });
      for (const lease of page) found.set(lease.id, lease);
      const last = page.at(-1);
      if (page.length < DEFAULT_LIST_LIMIT || last === undefined) return [...found.values()];
      after = leaseCursor(last, false);
    }
  }
}

function clientOf(site: string) {
  return { id: `${SEAT_BLOCK_CLIENT_PREFIX}${site}`, host: site };
}

/** One seat of the block, acted on as the site's client: the ownership check holds for blocks too. */
function refOf(ref: SeatBlockRef, lease: Lease) {
  return { leaseId: lease.id, licenseId: ref.licenseId, clientId: clientOf(ref.site).id, now: ref.now };
}

/** A seat that can no longer be renewed (expired, revoked, license gone): the block is smaller, no failure. */
function isSeatRefusal(err: unknown): boolean {
  return err instanceof LeaseholdError && err.status < 500;
}

function blockOf(ref: SeatBlockRef, leases: readonly Lease[]): SeatBlock {
  return {
    site: ref.site,
    licenseId: ref.licenseId,
    feature: ref.feature,
    seats: leases.length,
    heldUntil: leases.length === 0 ? ref.now : Math.min(...leases.map((l) => l.reservedUntil)),
    leaseIds: leases.map((l) => l.id),
  };
}
