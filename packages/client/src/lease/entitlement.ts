import type { Clock } from '../time/clock.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import type { LeaseGrant } from './lease-info.js';

/** This machine's clocks, read just before the request that got a grant was sent. */
export interface Anchor {
  readonly mono: number;
  readonly wall: number;
}

/**
 * How long a grant entitles this client, as intervals from its {@link Anchor}. Deadlines are intervals,
 * not instants of the node's clock, so a skew between this machine and the cluster does not matter, and
 * a wall clock set back (by two days, say) cannot stretch them.
 */
export interface Entitlement {
  readonly anchor: Anchor;
  /** The token's `exp`, as milliseconds after the anchor. */
  readonly tokenMs: number;
  /** The token's `exp` plus its signed `grace`: the last moment the feature may stay unlocked offline. */
  readonly endMs: number;
  /** When to renew, as milliseconds after the anchor. */
  readonly renewMs: number;
}

/**
 * The entitlement of a verified grant. Only signed claims set the deadlines: `exp` and `grace` from the
 * token (never the JSON view's `graceSeconds`, which no one signed, and never a client setting).
 *
 * The node read its clock for the grant after the request left this machine, so anchoring the token's
 * lifetime at the send time can only end it early, never late (DESIGN.md, "Time and leases", from the
 * client's side). That lifetime is `exp` minus the node's send time: the token's `iat` gives that time to
 * the second; the view's `renewedAt` gives it to the millisecond for a fresh grant, and is trusted only
 * within the signed second. A replayed checkout (200) carries the first grant's `renewedAt`, so it takes
 * the latest instant of the signed second instead.
 *
 * The lifetime is also capped by this machine's wall clock, `exp` plus the skew tolerance minus the send
 * time: an old token replayed by something posing as a node (which the tolerance still admits) keeps only
 * what is left of it, not a fresh TTL. An honest clock within the tolerance loses nothing by the cap.
 */
export function entitlementOf(
  grant: LeaseGrant,
  claims: LeaseTokenClaims,
  anchor: Anchor,
  fresh: boolean,
  skewToleranceMs: number,
): Entitlement {
  const second = claims.iat * 1000;
  const renewedAt = grant.renewedAt.getTime();
  const sentAt = fresh && renewedAt >= second && renewedAt < second + 1000 ? renewedAt : second + 999;
  const byNode = claims.exp * 1000 - sentAt;
  const byWall = claims.exp * 1000 + skewToleranceMs - anchor.wall;
  const tokenMs = Math.max(0, Math.min(byNode, byWall));
  const endMs = tokenMs + claims.grace * 1000;
  // The node's advice (a third of the TTL), but never later than half the token's life: two more tries
  // fit before it lapses.
  const advised = grant.renewInSeconds === undefined ? tokenMs / 3 : grant.renewInSeconds * 1000;
  const renewMs = Math.min(Math.max(0, advised), tokenMs / 2);
  return Object.freeze({ anchor, tokenMs, endMs, renewMs });
}

/**
 * Milliseconds since the anchor: the larger of the monotonic and the wall-clock reading. The monotonic
 * clock ignores wall-clock steps; the wall clock counts a machine's suspend, which the monotonic clock
 * may not (Linux CLOCK_MONOTONIC stops while suspended). Either can only bring a deadline closer.
 */
export function elapsedSince(anchor: Anchor, clock: Clock): number {
  return Math.max(clock.monotonic() - anchor.mono, clock.now() - anchor.wall);
}
