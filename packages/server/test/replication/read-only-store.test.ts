import { systemClock } from '@leasehold/domain';
import { NodeMetrics, readOnlyStore } from '@leasehold/server/internal';
import type { LeaseStore } from '@leasehold/store';
import { describe, expect, it } from 'vitest';

/**
 * A replica's read-only view of its store, as the node serves it: through the metrics wrapper. The
 * promotion must make the writes real even after they were refused once (the wrapper cached the
 * refusing method by name, and a promoted replica answered REPLICA_READ_ONLY for good).
 */
describe('a read-only replica store behind the metrics wrapper', () => {
  it('refuses writes until promoted, then passes them to the store', async () => {
    const calls: string[] = [];
    const fake = {
      backend: 'sqlite',
      releaseSeat: async () => {
        calls.push('releaseSeat');
        return 'released';
      },
      listLicenses: async () => {
        calls.push('listLicenses');
        return [];
      },
    } as unknown as LeaseStore;
    let promoted = false;
    const metrics = new NodeMetrics({
      nodeId: 'r',
      version: '0.0.0-test',
      store: 'sqlite',
      clock: systemClock,
    });
    const served = metrics.meterStore(readOnlyStore(fake, 'http://primary.example', () => promoted));

    await expect(served.releaseSeat({ leaseId: 'l', now: 0 })).rejects.toMatchObject({
      code: 'REPLICA_READ_ONLY',
    });
    expect(await served.listLicenses()).toEqual([]);
    expect(served.listLicenses).toBe(served.listLicenses); // one wrapper per method, not one per call

    promoted = true;
    expect(await served.releaseSeat({ leaseId: 'l', now: 0 })).toBe('released');
    expect(calls).toEqual(['listLicenses', 'releaseSeat']);
  });
});
