import { randomBytes } from 'node:crypto';
import { ManualClock } from '@leasehold/domain';
import { addLeaseCacheMetrics, NodeMetrics } from '@leasehold/server/internal';
import { EtcdStore, type LeaseStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, sampleValue } from './exposition.js';

const metricsOf = () =>
  new NodeMetrics({ nodeId: 'n1', version: '1', store: 'etcd', clock: new ManualClock() });

describe('leasehold_etcd_lease_cache_total', () => {
  const opened: EtcdStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it("counts the etcd store's cache outcomes at scrape time, by outcome", async () => {
    // Never connected: the constructor opens no call, and the counter reads the cache's own counts.
    const store = new EtcdStore({
      endpoints: ['http://127.0.0.1:1'],
      kek: randomBytes(32),
      licenseKeys: { vendorKeys: new Map() },
    });
    opened.push(store);
    const metrics = metricsOf();
    addLeaseCacheMetrics(metrics, store);
    addLeaseCacheMetrics(metrics, store); // a second call registers nothing twice
    Object.assign(store.leaseCacheStats, { hits: 7, misses: 2, stale: 1, refused: 3 });
    const samples = parseExposition((await metrics.expose()).body);
    const value = (outcome: string) => sampleValue(samples, 'leasehold_etcd_lease_cache_total', { outcome });
    expect(['hit', 'miss', 'stale', 'refused'].map(value)).toEqual([7, 2, 1, 3]);
  });

  it('adds nothing for a store that is not etcd', async () => {
    const metrics = metricsOf();
    addLeaseCacheMetrics(metrics, { backend: 'sqlite' } as unknown as LeaseStore);
    expect((await metrics.expose()).body).not.toContain('leasehold_etcd_lease_cache_total');
  });
});
