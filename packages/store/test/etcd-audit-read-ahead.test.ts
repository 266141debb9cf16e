import { randomBytes, randomUUID } from 'node:crypto';
import { GENESIS_HEAD, verifyUploadedChain } from '@leasehold/domain';
import { EtcdStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { SEAL_READ_AHEAD } from '../src/etcd/etcd-audit.js';
import type { ReadOp } from '../src/etcd/etcd-gateway.js';
import { LICENSE_KEYS, T0 } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

// etcd answers a range sorted by create revision by reading all of it and cutting afterwards, so each
// seal's read of the 256 oldest pending records read the whole queue inside etcd (issue 14: 10,000 leases
// expiring together leave 10,000 records, about 40 such reads). A seal now keeps what it read beyond its
// limit for the next one, while the head it wrote is unchanged.
describe('etcd audit sealing reads ahead', () => {
  let store: EtcdStore;
  afterEach(async () => {
    await store?.close();
  });

  it('seals a long queue in commit order with one sorted read per SEAL_READ_AHEAD records', async () => {
    store = new EtcdStore({
      endpoints: await etcdEndpoints(),
      prefix: `/read-ahead-${randomUUID()}/`,
      kek: randomBytes(32),
      licenseKeys: LICENSE_KEYS,
    });
    const record = (i: number) =>
      store.recordAudit({
        action: 'node.joined',
        actor: 'system',
        subject: `node:n${i}`,
        time: T0,
        node: 'n',
      });
    for (let i = 0; i < 6; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => record(i * 100 + j)));
    const queued = (await store.pendingAudit(10_000)).map((e) => e.subject);
    expect(queued).toHaveLength(600);
    const sortedReads: ReadOp[] = [];
    const read = store.gateway.read.bind(store.gateway);
    store.gateway.read = (ops) => {
      sortedReads.push(...ops.filter((op) => 'oldest' in op));
      return read(ops);
    };
    expect((await store.sealAudit(256)).sealed).toBe(256);
    await record(600); // committed after the read ahead: it comes after every record read then
    expect((await store.sealAudit(256)).sealed).toBe(256);
    // 88 left of the 600 read ahead, fewer than asked: a fresh read, which finds the 89 still pending.
    expect((await store.sealAudit(256)).sealed).toBe(89);
    expect(sortedReads).toHaveLength(2);
    expect(sortedReads[0]).toMatchObject({ oldest: SEAL_READ_AHEAD + 1 });
    const entries = await store.auditEntries({ afterSeq: 0, limit: 10_000 });
    expect(entries.map((e) => e.subject)).toEqual([...queued, 'node:n600']);
    // Every entry hashed from its fields and linked to the one before (throws on the first that is not).
    expect(verifyUploadedChain(GENESIS_HEAD, entries).seq).toBe(601);
    expect((await store.auditStatus()).unsealed).toBe(0);
  });
});
