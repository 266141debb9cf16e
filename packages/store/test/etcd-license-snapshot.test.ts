import { describe, expect, it } from 'vitest';
import type { EtcdGateway, KeyValue, ReadOp } from '../src/etcd/etcd-gateway.js';
import { EtcdLicenses } from '../src/etcd/etcd-licenses.js';
import { Keyspace } from '../src/etcd/keyspace.js';
import type { LicenseIntegrity } from '../src/integrity/license-integrity.js';
import { stubEtcdContext } from './support/stub-etcd-context.js';

const keys = new Keyspace('/t/');

/**
 * A gateway whose license-rev key is at `rev.now` and that holds no license records; each read of the
 * license prefix waits until the test releases it, and is counted.
 */
function licensesOver(rev: { now: number }) {
  const pending: (() => void)[] = [];
  let prefixReads = 0;
  const gateway = {
    read: (ops: readonly ReadOp[]) => {
      const at = rev.now;
      const answer = {
        results: ops.map((op) =>
          'key' in op && op.key === keys.licenseRev()
            ? [{ key: op.key, value: Buffer.from('x'), createRevision: 1, modRevision: at } as KeyValue]
            : [],
        ),
        revision: at,
      };
      if (!ops.some((op) => 'prefix' in op)) return Promise.resolve(answer);
      prefixReads++;
      return new Promise((resolve) => pending.push(() => resolve(answer)));
    },
  } as unknown as EtcdGateway;
  const ctx = stubEtcdContext(gateway, keys);
  // No records: the integrity check has nothing to verify or report.
  const integrity = { verify: async () => {}, report: async () => {} } as unknown as LicenseIntegrity;
  /** Answers every read waiting, or only the latest one. */
  const release = async (which: 'all' | 'last' = 'all') => {
    if (which === 'last') pending.pop()?.();
    else while (pending.length > 0) pending.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { licenses: new EtcdLicenses(ctx, integrity), release, reads: () => prefixReads };
}

describe('the etcd license snapshot', () => {
  it('loads a new revision once for every caller that missed it at once, then serves it from memory', async () => {
    const rev = { now: 7 };
    const { licenses, release, reads } = licensesOver(rev);
    const callers = Array.from({ length: 20 }, () => licenses.at(7));
    await release();
    const snapshots = await Promise.all(callers);
    expect(reads()).toBe(1);
    expect(snapshots.every((s) => s.rev === 7)).toBe(true);
    expect((await licenses.at(7)).rev).toBe(7);
    expect(reads()).toBe(1);
    expect(licenses.cached.rev).toBe(7);
  });

  it('loads each revision its callers read on its own, and the cache only moves forward', async () => {
    const rev = { now: 8 };
    const { licenses, release, reads } = licensesOver(rev);
    const older = licenses.at(8);
    rev.now = 9;
    const newer = licenses.at(9);
    expect(reads()).toBe(2);
    // The newer load answers first; the older one, answering last, must not take the cache back.
    await release('last');
    expect((await newer).rev).toBe(9);
    await release();
    expect((await older).rev).toBe(8);
    expect(licenses.cached.rev).toBe(9);
  });
});
