import { EtcdStore, type LeaseStore } from '@leasehold/store';
import { Counter } from 'prom-client';
import type { NodeMetrics } from './node-metrics.js';

/**
 * `leasehold_etcd_lease_cache_total{outcome}`: how the etcd store's lease record cache served renewals
 * (lease-record-cache.ts) — `hit` (the renewal skipped its read), `miss` (it read), `stale` (a hit whose
 * compare failed, then read) and `refused` (a write not kept, the cache being full of live leases). A
 * hit rate that falls means more etcd reads per renewal: raise `etcdLeaseCacheSize` (docs/ha.md).
 * Nothing on other stores.
 */
export function addLeaseCacheMetrics(metrics: NodeMetrics, store: LeaseStore): void {
  if (!(store instanceof EtcdStore)) return;
  if (metrics.registry.getSingleMetric('leasehold_etcd_lease_cache_total')) return;
  new Counter({
    name: 'leasehold_etcd_lease_cache_total',
    help: "Renewals by how the etcd lease record cache served them (hit, miss, stale) and writes it didn't keep (refused).",
    labelNames: ['outcome'] as const,
    registers: [metrics.registry],
    collect() {
      const s = store.leaseCacheStats;
      this.reset();
      this.inc({ outcome: 'hit' }, s.hits);
      this.inc({ outcome: 'miss' }, s.misses);
      this.inc({ outcome: 'stale' }, s.stale);
      this.inc({ outcome: 'refused' }, s.refused);
    },
  });
}
