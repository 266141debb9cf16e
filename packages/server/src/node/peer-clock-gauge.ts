import type { NodeMetrics } from '../observability/node-metrics.js';
import type { PeerProbe } from './peer-probe.js';

/**
 * `leasehold_peer_clock_skew_seconds{peer}`: each reachable peer's clock minus this node's, from the
 * peer probe. Lease expiry never trusts these clocks (the store decides), but signed token times do:
 * alert well before the skew nears the lease safety margin.
 */
export function addPeerClockGauge(metrics: NodeMetrics, probe: PeerProbe): void {
  metrics.gauge(
    'leasehold_peer_clock_skew_seconds',
    "Each peer node's clock minus this node's, seconds (NTP-style probe over mutual TLS; ±RTT/2).",
    () =>
      [...probe.readings()]
        .filter(([, r]) => r.reachable && r.clockSkewMs !== undefined)
        .map(([peer, r]) => ({ labels: { peer }, value: (r.clockSkewMs ?? 0) / 1000 })),
    ['peer'],
  );
}
