import type { PeerReading } from './peer-probe.js';

/**
 * Whether the peer probe shows a peer's clock off by more than the clock margin M (`maxClockSkewMs`)
 * beyond the probe's own uncertainty: the skew is known to within ±rtt/2, so only |skew| − rtt/2 > M is
 * certain. Then a seat handed over at its deadline + M by one of the two nodes may still be in use by a
 * holder whose lease the other wrote (docs/ha.md, "Expiry"): the operator must fix the clocks (or raise
 * M). The probe cannot tell which of the two clocks is wrong, so this is reported (`/v1/cluster`, the
 * `leasehold_peer_clock_skew_beyond_margin` gauge, the LeaseholdClockSkewBeyondMargin alert), and /readyz
 * stays as it is: failing it on both sides would take a healthy node out with the faulty one.
 *
 * An unreachable peer's last reading is stale and M = 0 (the margin off) checks nothing: both answer false.
 */
export function skewBeyondMargin(reading: PeerReading, maxClockSkewMs: number): boolean {
  if (maxClockSkewMs <= 0 || !reading.reachable) return false;
  if (reading.clockSkewMs === undefined || reading.rttMs === undefined) return false;
  return Math.abs(reading.clockSkewMs) - reading.rttMs / 2 > maxClockSkewMs;
}
