import type { AppDeps } from '../http/app-deps.js';
import { addClusterGauges } from './cluster-gauges.js';
import { NodeMetrics } from './node-metrics.js';
import { scrapeCache } from './scrape-cache.js';
import { addStoreGauges } from './store-gauges.js';

/**
 * The app's metrics and its dependencies as the app should use them: the store measured, the seat and
 * cluster gauges attached. The node passes its own `metrics` (with process metrics) to share them with
 * the sweeper; test apps get a fresh set.
 */
export function observeApp(deps: AppDeps): { deps: AppDeps; metrics: NodeMetrics } {
  const metrics =
    deps.metrics ??
    new NodeMetrics({
      nodeId: deps.nodeId,
      version: deps.version,
      store: deps.store.backend,
      clock: deps.clock,
    });
  const store = metrics.meterStore(deps.store);
  addStoreGauges(metrics, store, deps.clock);
  if (deps.membership) addClusterGauges(metrics, deps.membership, deps.clock);
  // One audit status read per scrape window, shared by the chain-length and unsealed gauges.
  const auditStatus = scrapeCache(
    () => store.auditStatus(),
    2000,
    () => deps.clock.monotonic(),
  );
  metrics.setAuditSource(async () => {
    const status = await auditStatus();
    return { headSeq: status.head.seq, unsealed: status.unsealed };
  });
  return { deps: { ...deps, store, metrics }, metrics };
}
