/**
 * The seats an edge site may lend of one (license, feature) at an instant: the block it holds from its
 * primary, counted down on the edge's own clock (docs/replication.md). An edge node's store asks its cap
 * inside every checkout and renewal transaction, so a grant and the block it draws on are decided together.
 */
export interface SeatCapReading {
  /** Seats of the block; 0 when the site holds none of this (license, feature). */
  readonly seats: number;
  /** Wall-clock ms by which every lease the edge grants must end: the block's deadline on the edge's clock. */
  readonly until: number;
}

export interface SeatCap {
  capFor(licenseId: string, feature: string, now: number): SeatCapReading;
}

/** Client id prefix of the leases that make up a seat block at the primary: `edge:<site>`. */
export const SEAT_BLOCK_CLIENT_PREFIX = 'edge:';
