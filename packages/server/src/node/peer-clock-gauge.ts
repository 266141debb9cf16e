import type { NodeMetrics } from '../observability/node-metrics.js';
import type { PeerProbe } from './peer-probe.js';
import { skewBeyondMargin } from './skew-beyond-margin.js';

/**
 * `leasehold_peer_clock_skew_seconds{peer}`: each reachable peer's clock minus this node's, from the
 * peer probe; and `leasehold_peer_clock_skew_beyond_margin{peer}`: 1 while that skew exceeds the clock
 * margin `maxClockSkewMs` by more than the probe's uncertainty (skew-beyond-margin.ts), else 0. Seats are
 * handed over at their deadline plus that margin, so a skew beyond it can hand a seat to a second client
 * while its holder still uses it: the LeaseholdClockSkewBeyondMargin alert reads the second gauge.
 */
export function addPeerClockGauge(
  metrics: NodeMetrics,
  probe: PeerProbe,
  /** The margin in force (ClusterClockMargin: the cluster's recorded margin). */
  maxClockSkewMs: () => number,
): void {
  const reachable = () => [...probe.readings()].filter(([, r]) => r.reachable && r.clockSkewMs !== undefined);
  metrics.gauge(
    'leasehold_peer_clock_skew_seconds',
    "Each peer node's clock minus this node's, seconds (NTP-style probe over mutual TLS; ±RTT/2).",
    () => reachable().map(([peer, r]) => ({ labels: { peer }, value: (r.clockSkewMs ?? 0) / 1000 })),
    ['peer'],
  );
  metrics.gauge(
    'leasehold_peer_clock_skew_beyond_margin',
    "1 while a peer's clock is off by more than maxClockSkewMs beyond the probe's ±RTT/2, else 0.",
    () =>
      reachable().map(([peer, r]) => ({
        labels: { peer },
        value: skewBeyondMargin(r, maxClockSkewMs()) ? 1 : 0,
      })),
    ['peer'],
  );
}
