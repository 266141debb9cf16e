import type { AppDeps } from '../http/app-deps.js';
import { addClusterGauges } from './cluster-gauges.js';
import { NodeMetrics } from './node-metrics.js';
import { addStoreGauges } from './store-gauges.js';

interface LooseAuditStatus {
  readonly head?: { readonly seq: number };
  readonly headSeq?: number;
  readonly unsealed: number;
}

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
  // The audit trail is being added to the store port; attach it when the store has it. Read loosely:
  // its status shape is still settling ({head: {seq}} or {headSeq}).
  const audited = store as unknown as { auditStatus?: () => Promise<LooseAuditStatus> };
  if (typeof audited.auditStatus === 'function') {
    metrics.setAuditSource(async () => {
      const status = (await audited.auditStatus?.()) as LooseAuditStatus;
      return { headSeq: status.head?.seq ?? status.headSeq ?? 0, unsealed: status.unsealed };
    });
  }
  return { deps: { ...deps, store, metrics }, metrics };
}
