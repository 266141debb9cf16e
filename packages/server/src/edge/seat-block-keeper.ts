import { type Clock, LeaseholdError } from '@leasehold/domain';
import type { LeaseStore, SeatCap, SeatCapReading } from '@leasehold/store';
import type { BlockUpstream } from './block-upstream.js';
import type { SeatBlockSpec } from './seat-block-spec.js';

export interface SeatBlockKeeperOptions {
  readonly site: string;
  readonly blocks: readonly SeatBlockSpec[];
  readonly blockTtlMs: number;
  readonly upstream: BlockUpstream;
  /** The edge's own store: how many local leases hold seats (before a shrink). */
  readonly store: Pick<LeaseStore, 'seatUsage'>;
  readonly clock: Clock;
  readonly newId: () => string;
}

/** What an edge knows of one of its blocks. */
export interface HeldBlockStatus {
  readonly licenseId: string;
  readonly feature: string;
  /** Seats the configuration (or an operator) wants. */
  readonly wanted: number;
  /** Seats the edge may lend now: what the primary granted at the last renewal (less during a shrink). */
  readonly seats: number;
  /** Milliseconds the block has left on the edge's clock; 0 once it ran out (or before the first hold). */
  readonly remainingMs: number;
  /** The block's deadline on the primary's clock, as the primary last said (for display). */
  readonly primaryHeldUntil: number | undefined;
  readonly lastError: string | undefined;
}

interface HeldBlock {
  readonly licenseId: string;
  readonly feature: string;
  wanted: number;
  seats: number;
  /** The block's deadline on this process's monotonic clock; undefined before the first hold. */
  deadlineMono: number | undefined;
  primaryHeldUntil: number | undefined;
  lastSentMono: number | undefined;
  lastError: string | undefined;
}

/**
 * The seat blocks an edge holds from its primary (docs/replication.md), and the edge store's
 * {@link SeatCap}. Each block is renewed, like any lease, at a third of its TTL. Its deadline on the edge
 * is counted from when the renewal was *sent*, on the monotonic clock: the primary's countdown starts when
 * the request reaches it, later, so the edge always stops first, whatever the round trip was. A small
 * margin (1% of the hold, at most 1 s) covers the rate difference of two clocks over one hold.
 *
 * A shrink stops lending first and asks the primary second, never for fewer seats than local leases hold
 * (the primary frees what it takes back at once). A grow lends nothing more until the primary's answer.
 */
export class SeatBlockKeeper implements SeatCap {
  readonly #options: SeatBlockKeeperOptions;
  readonly #blocks = new Map<string, HeldBlock>();

  constructor(options: SeatBlockKeeperOptions) {
    this.#options = options;
    for (const spec of options.blocks) {
      this.#blocks.set(keyOf(spec.licenseId, spec.feature), {
        licenseId: spec.licenseId,
        feature: spec.feature,
        wanted: spec.seats,
        seats: 0,
        deadlineMono: undefined,
        primaryHeldUntil: undefined,
        lastSentMono: undefined,
        lastError: undefined,
      });
    }
  }

  /** Read inside every checkout and renewal transaction of the edge's store (synchronous by design). */
  capFor(licenseId: string, feature: string, now: number): SeatCapReading {
    const block = this.#blocks.get(keyOf(licenseId, feature));
    if (!block) return { seats: 0, until: 0 };
    if (block.deadlineMono === undefined) return { seats: block.wanted, until: now };
    // Whole milliseconds, rounded down (stored deadlines are integers; earlier is the safe side).
    const left = Math.floor(block.deadlineMono - this.#options.clock.monotonic());
    return { seats: block.seats, until: now + left };
  }

  /**
   * Renews every block that is due: a third of the TTL after its last successful renewal was sent. A
   * failed one stays due, so the caller's next tick (a sixth of the TTL, edge-site.ts) tries again.
   */
  async renewDue(): Promise<void> {
    const mono = this.#options.clock.monotonic();
    const third = this.#options.blockTtlMs / 3;
    const due = [...this.#blocks.values()].filter(
      (b) => b.lastSentMono === undefined || mono - b.lastSentMono >= third,
    );
    const outcomes = await Promise.allSettled(due.map((block) => this.#renew(block)));
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Asks for a different block size; the next renewal carries it (a grow may be granted in part). */
  setWanted(licenseId: string, feature: string, seats: number): void {
    const block = this.#blocks.get(keyOf(licenseId, feature));
    if (!block) throw new TypeError(`no seat block ${licenseId}:${feature} on this edge`);
    if (!Number.isInteger(seats) || seats < 0) throw new TypeError('seats must be an integer >= 0');
    block.wanted = seats;
    block.lastSentMono = undefined; // due now
  }

  status(): HeldBlockStatus[] {
    const mono = this.#options.clock.monotonic();
    return [...this.#blocks.values()].map((b) => ({
      licenseId: b.licenseId,
      feature: b.feature,
      wanted: b.wanted,
      seats: b.seats,
      remainingMs: b.deadlineMono === undefined ? 0 : Math.max(0, b.deadlineMono - mono),
      primaryHeldUntil: b.primaryHeldUntil,
      lastError: b.lastError,
    }));
  }

  async #renew(block: HeldBlock): Promise<void> {
    const { clock, upstream } = this.#options;
    let requested = block.wanted;
    if (block.wanted < block.seats) {
      // Shrink: lend no more than max(wanted, live) from now on, then ask for that (see the class comment).
      // Live is read again after the cap is lowered, so a grant that slipped in between is counted.
      block.seats = Math.max(block.wanted, await this.#liveLocal(block));
      requested = Math.max(block.wanted, await this.#liveLocal(block), block.seats);
    }
    const sentMono = clock.monotonic();
    try {
      const answer = await upstream.holdBlock({
        site: this.#options.site,
        licenseId: block.licenseId,
        feature: block.feature,
        seats: requested,
        holdMs: this.#options.blockTtlMs,
        requestId: this.#options.newId(),
      });
      const margin = Math.min(1000, answer.heldForMs / 100);
      block.deadlineMono = sentMono + answer.heldForMs - margin;
      block.seats = answer.seats;
      block.primaryHeldUntil = answer.heldUntil;
      block.lastSentMono = sentMono;
      block.lastError = undefined;
    } catch (err) {
      // With its code when it has one (UPSTREAM_TLS_FAILED, FORBIDDEN, …): the status says what to fix.
      block.lastError =
        err instanceof LeaseholdError ? `${err.code}: ${err.message}` : (err as Error).message;
      throw err;
    }
  }

  async #liveLocal(block: HeldBlock): Promise<number> {
    const usage = await this.#options.store.seatUsage(this.#options.clock.now());
    return usage.find((u) => u.licenseId === block.licenseId && u.feature === block.feature)?.inUse ?? 0;
  }
}

function keyOf(licenseId: string, feature: string): string {
  return JSON.stringify([licenseId, feature]);
}
