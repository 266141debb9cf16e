import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EtcdGateway, type TxnResult } from '../src/etcd/etcd-gateway.js';
import { etcdEndpoints } from './support/etcd.js';
import { EtcdModel, type ModelTxn } from './support/etcd-model.js';

// Group commit against a real etcd 3.5 cluster: nested transactions, each with its own compares and
// result, in one proposal; the same results as the in-memory model running the operations one by one.
describe('etcd group commit (real etcd)', () => {
  it('concurrent writes share transactions, and each gets the result it gets alone', async () => {
    const endpoints = await etcdEndpoints();
    const p = `/batching-${randomUUID()}/`;
    const gateway = new EtcdGateway({ endpoints, batchWindowMs: 5 });
    try {
      // Warm the connection: the first call is sent alone either way.
      await gateway.read([{ key: `${p}none` }]);
      const ops: ModelTxn[] = [];
      for (let i = 0; i < 40; i++) {
        // Ten keys, four creators each: one creator per key wins; the others fail their compare and read
        // the winner's value back. Every fifth also compares a value that is never there (always fails).
        const key = `${p}k/${i % 10}`;
        ops.push({
          compare: [
            { key, target: 'Create', equals: 0 },
            ...(i % 5 === 4 ? [{ key: `${p}flag`, target: 'Value' as const, equals: 'up' }] : []),
          ],
          writes: [
            { put: key, value: `w${i}` },
            { put: `${p}log/${i}`, value: 'x' },
          ],
          onFailure: [{ key }],
        });
      }
      const before = gateway.batchStats.batches;
      const results = await Promise.all(ops.map((op) => gateway.txn(op.compare, op.writes, op.onFailure)));
      const batches = gateway.batchStats.batches - before;
      expect(batches).toBeLessThan(ops.length); // some of them shared a transaction

      // Replay one by one in the order of the revisions etcd gave on the model, and compare every result.
      // A write that succeeded at revision R comes before a failed compare answered at R (which saw R, or
      // R - 1 in a batch whose other writes it does not touch: the same result); within a batch any order
      // gives the same, the footprints being disjoint.
      const order = ops
        .map((op, i) => ({ op, r: results[i] as TxnResult }))
        .sort(
          (a, b) =>
            a.r.revision - b.r.revision || Number(a.r.succeeded === false) - Number(b.r.succeeded === false),
        );
      const model = new EtcdModel();
      for (const { op, r } of order) {
        const [alone] = model.txn([op]);
        expect(r.succeeded).toBe(alone?.succeeded);
        const values = (x: TxnResult | undefined) =>
          x?.failure.map((kvs) => kvs.map((kv) => kv.value.toString()));
        expect(values(r)).toEqual(values(alone));
      }
      // Keys 4 and 9 have only the creators whose second compare always fails: eight keys are won.
      expect(results.filter((r) => r.succeeded)).toHaveLength(8);
      // Every write landed as the model says (etcd read back).
      const { results: stored } = await gateway.read([{ prefix: p }]);
      const actual = Object.fromEntries((stored[0] ?? []).map((kv) => [kv.key, kv.value.toString()]));
      expect(actual).toEqual(model.values());
      // Writes batched together share the batch's revision; distinct batches have distinct revisions.
      const revisions = new Set(results.filter((r) => r.succeeded).map((r) => r.revision));
      expect(revisions.size).toBeLessThanOrEqual(batches);
    } finally {
      gateway.close();
    }
  });

  it('a batch whose outcome is unknown fails each of its writes as a transient error', async () => {
    // A member that never answers: the call's deadline passes, every write of the batch is unknown.
    const gateway = new EtcdGateway({
      endpoints: ['http://127.0.0.1:9'],
      callTimeoutMs: 200,
      batchWindowMs: 5,
    });
    try {
      const writes = Array.from({ length: 5 }, (_, i) =>
        gateway.txn([], [{ put: `/unknown/${i}`, value: 'x' }]).then(
          () => 'ok',
          (err: Error) => err.name,
        ),
      );
      expect(await Promise.all(writes)).toEqual(Array(5).fill('EtcdTransientError'));
    } finally {
      gateway.close();
    }
  });
});

// Read batching (read-batcher.ts) through the gateway: single-key reads gathered, prefix reads alone.
describe('read batching on a real etcd', () => {
  it('concurrent single-key reads share transactions and each reads what is stored', async () => {
    const endpoints = await etcdEndpoints();
    const p = `/read-batching-${randomUUID()}/`;
    const gateway = new EtcdGateway({ endpoints, batchWindowMs: 5 });
    try {
      await Promise.all(
        gateway.txnMany(
          Array.from({ length: 20 }, (_, i) => ({
            compare: [],
            writes: [{ put: `${p}k/${i}`, value: `v${i}` }],
          })),
        ),
      );
      await gateway.read([{ key: `${p}warm` }]);
      const before = gateway.readBatchStats.batches;
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          gateway.read([{ key: `${p}k/${i % 20}` }, { key: `${p}k/${(i + 7) % 25}` }]),
        ),
      );
      expect(gateway.readBatchStats.batches - before).toBeLessThan(60);
      answers.forEach((answer, i) => {
        const second = (i + 7) % 25;
        expect(answer.results.map((kvs) => kvs[0]?.value.toString())).toEqual([
          `v${i % 20}`,
          second < 20 ? `v${second}` : undefined,
        ]);
      });
      // A prefix read goes alone, unchanged.
      const all = await gateway.read([{ prefix: `${p}k/` }]);
      expect(all.results[0]).toHaveLength(20);
    } finally {
      gateway.close();
    }
  });
});
