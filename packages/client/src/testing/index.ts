/**
 * @leasehold/client/testing — what a vendor needs to test licensing code built on `@leasehold/client`,
 * and what the SDK's own tests use: an in-process fake cluster behind a `fetch` function, a manual clock
 * that drives renewals and grace without waiting, and a TCP fault proxy for tests against real nodes.
 * Node only (it uses `node:net` and `node:crypto`); never import it from production code.
 */

export { FakeCluster, type FakeClusterOptions } from './fake-cluster.js';
export type { FakeLease } from './fake-lease.js';
export type { FakeNode, FakeNodeMode, FakeRequest } from './fake-node.js';
export { type FaultMode, FaultProxy, type FaultProxyOptions, type FaultProxyStats } from './fault-proxy.js';
export { ManualClock, type ScheduledTimer } from './manual-clock.js';
