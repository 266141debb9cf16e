import { LeaseholdError } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';
import { EtcdEpochs } from '../src/etcd/etcd-epoch.js';
import type { EtcdGateway, KeyValue, ReadOp } from '../src/etcd/etcd-gateway.js';
import { EtcdTransientError } from '../src/etcd/etcd-gateway.js';
import { EtcdLeases } from '../src/etcd/etcd-leases.js';
import type { EtcdLicenses } from '../src/etcd/etcd-licenses.js';
import { Keyspace } from '../src/etcd/keyspace.js';
import { LeaseRecordCache } from '../src/etcd/lease-record-cache.js';
import { encodeLease } from '../src/etcd/records.js';
import { stubEtcdContext } from './support/stub-etcd-context.js';

// Regression for issue 10: EtcdStore.purgeEndedLeases swallowed every error of its deletes, so an etcd
// outage or a bug looked like "nothing to purge". A gateway stub stands in for etcd: what is tested is
// which errors the purge lets through, not etcd. Since issue 14 the purge reads the end index
// (`by-end/`), not every lease record: the stub answers that range.

const keys = new Keyspace('/purge-test/');

function endedLeaseKv(id: string, endedAt: number, modRevision: number): KeyValue {
  const value = encodeLease({
    id,
    licenseId: 'lic',
    feature: 'solver',
    slot: 0,
    fence: 1,
    client: { id: `client-${id}` },
    requestId: `req-${id}`,
    createdAt: 0,
    renewedAt: 0,
    expiresAt: 10,
    reservedUntil: 10,
    graceMs: 0,
    revokedAt: undefined,
    endedAt,
    endReason: 'released',
  });
  return { key: keys.lease(id), value: Buffer.from(value), createRevision: 1, modRevision };
}

function leasesOver(txn: (key: string) => Promise<{ succeeded: boolean }>): EtcdLeases {
  const records = [endedLeaseKv('a', 5, 11), endedLeaseKv('b', 6, 12), endedLeaseKv('c', 500, 13)];
  // The end index as the ending transactions wrote it, and the marker that says it is complete.
  const entries = records.map((kv, i) => ({
    ...kv,
    key: keys.ended([5, 6, 500][i] as number, ['a', 'b', 'c'][i] as string),
    value: Buffer.from(['a', 'b', 'c'][i] as string),
  }));
  const marker = { ...(records[0] as KeyValue), key: keys.deadlineIndexReady() };
  const gateway = {
    read: async (ops: readonly ReadOp[]) => ({
      results: ops.map((op) =>
        'key' in op
          ? op.key === marker.key
            ? [marker]
            : []
          : 'to' in op
            ? entries.filter((e) => e.key >= op.from && e.key < op.to).slice(0, op.limit)
            : [],
      ),
      revision: 20,
    }),
    getMany: async (wanted: readonly string[]) => wanted.map((k) => records.find((r) => r.key === k)),
    txnMany: (txns: readonly { compare: readonly { key: string }[] }[]) =>
      txns.map(async (t) => ({ ...(await txn(t.compare[0]?.key ?? '')), revision: 21, failure: [] })),
  } as unknown as EtcdGateway;
  const ctx = stubEtcdContext(gateway, keys);
  return new EtcdLeases(
    ctx,
    undefined as unknown as EtcdLicenses,
    new LeaseRecordCache(0, (id) => id),
    new EtcdEpochs(ctx),
  );
}

describe('purging ended etcd leases', () => {
  it('deletes leases that ended before the cut-off and counts only the deletes that won', async () => {
    const deleted: string[] = [];
    const leases = leasesOver(async (key) => {
      deleted.push(key);
      return { succeeded: key !== keys.lease('b') }; // b changed since it was read: left for next time
    });
    expect(await leases.purge(100)).toBe(1);
    expect(deleted).toEqual([keys.lease('a'), keys.lease('b')]);
  });

  it('reports a transient etcd error as STORE_UNAVAILABLE instead of returning a short count', async () => {
    const leases = leasesOver(async () => {
      throw new EtcdTransientError('deadline exceeded');
    });
    const err = await leases.purge(100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseholdError);
    expect((err as LeaseholdError).code).toBe('STORE_UNAVAILABLE');
    expect((err as LeaseholdError).cause).toBeInstanceOf(EtcdTransientError);
  });

  it('throws any other error as it is', async () => {
    const bug = new TypeError('not a transient failure');
    const leases = leasesOver(async () => {
      throw bug;
    });
    await expect(leases.purge(100)).rejects.toBe(bug);
  });
});
