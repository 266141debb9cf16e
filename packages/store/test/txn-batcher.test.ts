import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Compare, ReadOp, TxnResult, WriteOp } from '../src/etcd/etcd-gateway.js';
import { type BatchTimers, TxnBatcher } from '../src/etcd/txn-batcher.js';
import { footprintOf } from '../src/etcd/txn-footprint.js';
import { EtcdModel, type ModelTxn } from './support/etcd-model.js';
import { manualTimers } from './support/manual-timers.js';

const cost = (op: ModelTxn) => ({
  ops: Math.max(op.compare.length, op.writes.length, op.onFailure.length),
  bytes: 100,
});
/** What etcd counts of a batch of nested transactions: one per operation, plus the largest list among them. */
const etcdOps = (batch: readonly ModelTxn[]) =>
  batch.length === 1
    ? cost(batch[0] as ModelTxn).ops
    : batch.length + Math.max(...batch.map((op) => cost(op).ops));
const footprint = (op: ModelTxn) => footprintOf(op.compare, op.writes, op.onFailure);

/** A sender whose transactions the test answers by hand; it records every batch. */
function manualSender() {
  const sent: { ops: readonly ModelTxn[]; answer: (r: TxnResult[] | Error) => void }[] = [];
  const send = (ops: readonly ModelTxn[]) =>
    new Promise<TxnResult[]>((resolve, reject) => {
      sent.push({ ops, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  return { sent, send };
}

const put = (key: string, value = 'v'): ModelTxn => ({
  compare: [{ key, target: 'Create', equals: 0 }],
  writes: [{ put: key, value }],
  onFailure: [{ key }],
});
const ok = (revision: number): TxnResult => ({ succeeded: true, revision, failure: [] });
const flushMicrotasks = () => new Promise((resolve) => setImmediate(resolve));

describe('TxnBatcher', () => {
  const limits = { maxOps: 128, maxBytes: 1 << 20, shape: 'nested' as const };

  it('sends at once when nothing is in flight, gathers while a batch is, and sends the gathered when it returns', async () => {
    const { sent, send } = manualSender();
    const { timers, pending } = manualTimers();
    const batcher = new TxnBatcher({ windowMs: 5, limits, send, footprint, cost, timers });
    const first = batcher.submit(put('a'));
    expect(sent).toHaveLength(1); // idle: no wait
    const later = [batcher.submit(put('b')), batcher.submit(put('c')), batcher.submit(put('d'))];
    expect(sent).toHaveLength(1);
    expect(pending.size).toBe(1); // the window is armed
    sent[0]?.answer([ok(2)]);
    await expect(first).resolves.toEqual(ok(2));
    await flushMicrotasks();
    expect(sent).toHaveLength(2); // the first returned: the three go together, before the window ends
    expect(sent[1]?.ops.map((op) => op.writes[0])).toEqual([
      { put: 'b', value: 'v' },
      { put: 'c', value: 'v' },
      { put: 'd', value: 'v' },
    ]);
    expect(pending.size).toBe(0);
    sent[1]?.answer([ok(3), { succeeded: false, revision: 3, failure: [[]] }, ok(3)]);
    const results = await Promise.all(later);
    expect(results.map((r) => r.succeeded)).toEqual([true, false, true]); // one failed compare fails only itself
    expect(batcher.stats).toEqual({ batches: 2, operations: 4 });
  });

  it('sends what gathered when the window ends, even with a batch still in flight', async () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({ windowMs: 5, limits, send, footprint, cost, timers });
    void batcher.submit(put('a'));
    void batcher.submit(put('b'));
    void batcher.submit(put('c'));
    expect(sent).toHaveLength(1);
    fire();
    expect(sent.map((s) => s.ops.length)).toEqual([1, 2]);
  });

  it('never puts two operations on one key, or one that reads what another writes, in one batch', async () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({ windowMs: 5, limits, send, footprint, cost, timers });
    void batcher.submit(put('x/0'));
    void batcher.submit(put('k/1'));
    void batcher.submit(put('k/1')); // the same key: a later batch
    void batcher.submit(put('k/2'));
    // A range compare over k/ reads what k/1 and k/2 write; it waits for them, and so does k/3 behind it.
    void batcher.submit({
      compare: [{ key: 'k/', within: 'k/', target: 'Create', equals: 0 }],
      writes: [{ put: 'z', value: 'v' }],
      onFailure: [],
    });
    void batcher.submit(put('m'));
    fire();
    const keys = sent.map((s) => s.ops.map((op) => (op.writes[0] as { put: string }).put));
    expect(keys).toEqual([['x/0'], ['k/1', 'k/2', 'm'], ['k/1'], ['z']]);
  });

  it('splits a batch at the transaction-operation limit, counted as etcd counts nested transactions', async () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({
      windowMs: 5,
      limits: { maxOps: 10, maxBytes: 1 << 20, shape: 'nested' },
      send,
      footprint,
      cost,
      timers,
    });
    void batcher.submit(put('first'));
    for (let i = 0; i < 8; i++) void batcher.submit(put(`k${i}`)); // 8 nested + their 1 write: 9, under 10
    expect(sent).toHaveLength(1);
    void batcher.submit(put('k8')); // 9 + 1 = 10: the cap is reached, it goes now
    expect(sent.map((s) => s.ops.length)).toEqual([1, 9]);
    // One operation of 6 writes: with it, 4 fit (4 + 6 = 10), not 5.
    const wide: ModelTxn = {
      compare: [],
      writes: Array.from({ length: 6 }, (_, i) => ({ put: `w/${i}`, value: 'v' })),
      onFailure: [],
    };
    void batcher.submit(wide);
    for (let i = 9; i < 15; i++) void batcher.submit(put(`k${i}`));
    fire();
    expect(sent.map((s) => s.ops.length)).toEqual([1, 9, 4, 3]);
    for (const s of sent) expect(etcdOps(s.ops)).toBeLessThanOrEqual(10);
  });

  it('a flat batch (every operation in one list, as the read batcher sends) adds the lists up', () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({
      windowMs: 5,
      limits: { maxOps: 10, maxBytes: 1 << 20, shape: 'flat' },
      send,
      footprint,
      cost: () => ({ ops: 3, bytes: 0 }),
      timers,
    });
    for (let i = 0; i < 8; i++) void batcher.submit(put(`k${i}`));
    fire();
    expect(sent.map((s) => s.ops.length)).toEqual([1, 3, 1, 3]);
  });

  it('fails every operation of a batch whose outcome is unknown, and no other', async () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({ windowMs: 5, limits, send, footprint, cost, timers });
    const a = batcher.submit(put('a'));
    const b = batcher.submit(put('b'));
    const c = batcher.submit(put('c'));
    fire();
    sent[1]?.answer(new Error('deadline exceeded'));
    sent[0]?.answer([ok(2)]);
    await expect(a).resolves.toEqual(ok(2));
    await expect(b).rejects.toThrow('deadline exceeded');
    await expect(c).rejects.toThrow('deadline exceeded');
  });

  it('with a window of 0 sends every operation alone', () => {
    const { sent, send } = manualSender();
    const batcher = new TxnBatcher({ windowMs: 0, limits, send, footprint, cost });
    for (const k of ['a', 'b', 'c']) void batcher.submit(put(k));
    expect(sent.map((s) => s.ops.length)).toEqual([1, 1, 1]);
  });

  // Any interleaving of submissions, sends, answers and window ends: every operation gets the result it
  // would get run alone, one by one, in the order etcd committed them, and the store ends the same.
  it('property: batched results equal one-by-one results against the same state', async () => {
    const keys = ['k/a', 'k/b', 'k/c', 'k/d', 'm'];
    const key = fc.constantFrom(...keys);
    const compare: fc.Arbitrary<Compare> = fc.oneof(
      key.map((k) => ({ key: k, target: 'Create' as const, equals: 0 })),
      fc
        .tuple(key, fc.constantFrom('1', '2'))
        .map(([k, v]) => ({ key: k, target: 'Value' as const, equals: v })),
      fc.constant({ key: 'k/', within: 'k/', target: 'Create' as const, equals: 0 as const }),
      fc.constant({ key: 'k/c', within: 'k/', target: 'Create' as const, equals: 0 as const }),
    );
    const write: fc.Arbitrary<WriteOp> = fc.oneof(
      fc.tuple(key, fc.constantFrom('1', '2', '3')).map(([k, v]) => ({ put: k, value: v })),
      key.map((k) => ({ delete: k })),
    );
    const read: fc.Arbitrary<ReadOp> = fc.oneof(
      key.map((k) => ({ key: k })),
      fc.constant({ prefix: 'k/' }),
    );
    const op: fc.Arbitrary<ModelTxn> = fc.record({
      compare: fc.array(compare, { maxLength: 3 }),
      writes: fc.uniqueArray(write, {
        minLength: 1,
        maxLength: 3,
        selector: (w) => ('put' in w ? w.put : w.delete),
      }),
      onFailure: fc.array(read, { maxLength: 2 }),
    });
    const initial = fc.array(fc.tuple(key, fc.constantFrom('1', '2')), { maxLength: 4 });

    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(op, { minLength: 1, maxLength: 12 }),
        initial,
        fc.integer({ min: 4, max: 40 }),
        async (s, ops, seed, maxOps) => {
          const setUp = (model: EtcdModel) => {
            for (const [k, v] of seed)
              model.txn([{ compare: [], writes: [{ put: k, value: v }], onFailure: [] }]);
          };
          const batched = new EtcdModel();
          setUp(batched);
          const committed: ModelTxn[] = [];
          const send = (batch: readonly ModelTxn[]) => {
            // etcd would refuse a batch over its operation limit ("too many operations in txn request").
            if (batch.length > 1) expect(etcdOps(batch)).toBeLessThanOrEqual(maxOps);
            // etcd applies the transaction somewhere between the call and the answer: here, at the call.
            const results = batched.txn(batch);
            committed.push(...batch);
            return s.schedule(Promise.resolve(results), 'answer');
          };
          const timers: BatchTimers = {
            set: (fn) => {
              const handle = { cancelled: false };
              void s.schedule(Promise.resolve(), 'window').then(() => {
                if (!handle.cancelled) fn();
              });
              return handle;
            },
            clear: (h) => {
              (h as { cancelled: boolean }).cancelled = true;
            },
          };
          const batcher = new TxnBatcher({
            windowMs: 1,
            limits: { maxOps, maxBytes: 1 << 20, shape: 'nested' },
            send,
            footprint,
            cost,
            timers,
          });
          const results = new Map<ModelTxn, TxnResult>();
          const submitted = ops.map((o) =>
            s
              .schedule(Promise.resolve(), 'submit')
              .then(() => batcher.submit(o).then((r) => results.set(o, r))),
          );
          await s.waitFor(Promise.all(submitted));

          expect(committed).toHaveLength(ops.length);
          expect(new Set(committed).size).toBe(ops.length);
          const serial = new EtcdModel();
          setUp(serial);
          for (const o of committed) {
            const [alone] = serial.txn([o]);
            const got = results.get(o);
            expect(got?.succeeded).toBe(alone?.succeeded);
            const values = (r: TxnResult | undefined) =>
              r?.failure.map((kvs) => kvs.map((kv) => [kv.key, kv.value.toString()]));
            expect(values(got)).toEqual(values(alone));
          }
          expect(batched.values()).toEqual(serial.values());
        },
      ),
      { numRuns: 300 },
    );
  });
});
