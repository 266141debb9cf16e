import { describe, expect, it } from 'vitest';
import type { TxnResult } from '../src/etcd/etcd-gateway.js';
import { TxnBatcher } from '../src/etcd/txn-batcher.js';
import { footprintOf } from '../src/etcd/txn-footprint.js';
import type { ModelTxn } from './support/etcd-model.js';
import { manualTimers } from './support/manual-timers.js';

const limits = { maxOps: 128, maxBytes: 1 << 20, shape: 'nested' as const };
const cost = (op: ModelTxn) => ({ ops: Math.max(op.compare.length, op.writes.length), bytes: 100 });
const footprint = (op: ModelTxn) => footprintOf(op.compare, op.writes, op.onFailure);
const put = (key: string): ModelTxn => ({
  compare: [{ key, target: 'Create', equals: 0 }],
  writes: [{ put: key, value: 'v' }],
  onFailure: [],
});
const ok = (revision: number): TxnResult => ({ succeeded: true, revision, failure: [] });
const flushMicrotasks = () => new Promise((resolve) => setImmediate(resolve));

/** A sender whose batches the test answers by hand. */
function manualSender() {
  const sent: { ops: readonly ModelTxn[]; answer: () => void }[] = [];
  const send = (ops: readonly ModelTxn[]) =>
    new Promise<TxnResult[]>((resolve) => {
      sent.push({ ops, answer: () => resolve(ops.map(() => ok(2))) });
    });
  return { sent, send };
}

/** A batcher with one batch in flight at most, a manual sender and manual timers. */
function oneInFlight(maxWaitWindows: number) {
  const { sent, send } = manualSender();
  const { timers, fire, pending } = manualTimers();
  const batcher = new TxnBatcher({
    windowMs: 2,
    limits,
    send,
    footprint,
    cost,
    timers,
    maxInFlight: 1,
    maxWaitWindows,
  });
  return { sent, batcher, fire, pending };
}

describe('TxnBatcher with a limit on batches in flight', () => {
  it('holds what gathers past the window while the most allowed are in flight, and sends it when one returns', async () => {
    const { sent, batcher, fire, pending } = oneInFlight(10);
    void batcher.submit(put('a'));
    void batcher.submit(put('b'));
    fire(); // the window ends with one batch in flight: b waits for it
    void batcher.submit(put('c'));
    fire();
    expect(sent.map((s) => s.ops.length)).toEqual([1]);
    expect(pending.size).toBe(1); // still bounded by the window count
    sent[0]?.answer();
    await flushMicrotasks();
    expect(sent.map((s) => s.ops.length)).toEqual([1, 2]); // b and c together, at the return
    expect(pending.size).toBe(0);
    expect(batcher.stats).toEqual({ batches: 2, operations: 3 });
  });

  it('sends anyway after maxWaitWindows windows when no batch returns (a member that hangs)', () => {
    const { sent, batcher, fire } = oneInFlight(3);
    void batcher.submit(put('a'));
    void batcher.submit(put('b'));
    fire();
    fire();
    expect(sent).toHaveLength(1);
    fire(); // the third window: b goes beside the batch that hangs
    expect(sent.map((s) => s.ops.length)).toEqual([1, 1]);
  });

  it('below the limit the window alone decides, as without one', () => {
    const { sent, send } = manualSender();
    const { timers, fire } = manualTimers();
    const batcher = new TxnBatcher({ windowMs: 2, limits, send, footprint, cost, timers, maxInFlight: 2 });
    void batcher.submit(put('a'));
    void batcher.submit(put('b'));
    fire(); // one in flight, two allowed: b goes at the window's end
    void batcher.submit(put('c'));
    fire(); // two in flight now: c waits
    expect(sent.map((s) => s.ops.length)).toEqual([1, 1]);
  });
});
