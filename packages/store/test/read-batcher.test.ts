import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KeyValue, ReadOp } from '../src/etcd/etcd-gateway.js';
import { type ReadAnswer, ReadBatcher } from '../src/etcd/read-batcher.js';
import { manualTimers } from './support/manual-timers.js';

/**
 * A key-value store with revisions, as etcd keeps them: every write is a new revision, and each
 * revision's state is kept so a read's answer can be checked against the state at its revision.
 */
class VersionedMap {
  revision = 1;
  readonly #states: Map<string, KeyValue>[] = [new Map(), new Map()];

  write(key: string, value: string): void {
    const next = new Map(this.#states[this.revision]);
    this.revision++;
    next.set(key, {
      key,
      value: Buffer.from(value),
      createRevision: this.revision,
      modRevision: this.revision,
    });
    this.#states[this.revision] = next;
  }

  /** What `ops` (single keys) read at `revision`. */
  at(ops: readonly ReadOp[], revision: number): KeyValue[][] {
    const state = this.#states[revision] ?? new Map<string, KeyValue>();
    return ops.map((op) => {
      const kv = 'key' in op ? state.get(op.key) : undefined;
      return kv ? [kv] : [];
    });
  }
}

/** A sender over a VersionedMap whose calls the test answers by hand (reading the map at answer time). */
function manualSender(map: VersionedMap) {
  const calls: { ops: readonly ReadOp[]; answer: () => void; fail: (err: Error) => void }[] = [];
  const send = (ops: readonly ReadOp[]) =>
    new Promise<ReadAnswer>((resolve, reject) => {
      const sentAt = map.revision;
      calls.push({
        ops,
        // etcd answers at a revision no older than the one when the call was sent (ReadIndex).
        answer: () =>
          resolve({ results: map.at(ops, map.revision), revision: Math.max(sentAt, map.revision) }),
        fail: reject,
      });
    });
  return { calls, send };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const keys = ['a', 'b', 'c', 'd', 'e'];

describe('ReadBatcher', () => {
  it('sends at once when idle, gathers reads while one is in flight, and gives each its own slice', async () => {
    const map = new VersionedMap();
    map.write('a', 'A');
    map.write('b', 'B');
    const { calls, send } = manualSender(map);
    const { timers } = manualTimers();
    const batcher = new ReadBatcher({ windowMs: 5, maxOps: 100, send, timers });
    const first = batcher.read([{ key: 'a' }], undefined);
    expect(calls).toHaveLength(1);
    const gathered = [
      batcher.read([{ key: 'b' }, { key: 'a' }], undefined),
      batcher.read([{ key: 'none' }], undefined),
      batcher.read([{ key: 'b' }], undefined),
    ];
    expect(calls).toHaveLength(1); // waiting for the first
    calls[0]?.answer();
    await first;
    await flush();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.ops).toHaveLength(4); // one transaction for the three
    calls[1]?.answer();
    const values = (await Promise.all(gathered)).map((r) => r.results.map((kvs) => kvs[0]?.value.toString()));
    expect(values).toEqual([['B', 'A'], [undefined], ['B']]);
    expect(batcher.stats).toEqual({ batches: 2, operations: 4 });
  });

  it('never puts more than maxOps range ops in one transaction (a larger read goes alone)', async () => {
    const map = new VersionedMap();
    const { calls, send } = manualSender(map);
    const { timers, fire } = manualTimers();
    const batcher = new ReadBatcher({ windowMs: 5, maxOps: 4, send, timers });
    const reads = [batcher.read([{ key: 'x' }], undefined)];
    for (let i = 0; i < 5; i++) reads.push(batcher.read([{ key: 'a' }, { key: 'b' }], undefined));
    reads.push(
      batcher.read(
        keys.map((key) => ({ key })),
        undefined,
      ),
    ); // 5 > maxOps: alone
    fire();
    for (let round = 0; round < 10 && calls.length > 0; round++) {
      for (const call of calls.splice(0)) call.answer();
      await flush();
      fire();
    }
    await Promise.all(reads);
    expect(batcher.stats.operations).toBe(7);
    expect(batcher.stats.batches).toBeGreaterThanOrEqual(4);
  });

  it('an answer too large for one message (RESOURCE_EXHAUSTED) sends each read of the batch alone', async () => {
    const map = new VersionedMap();
    map.write('a', 'A');
    const sent: number[] = [];
    let block: (() => void) | undefined;
    const send = async (ops: readonly ReadOp[]): Promise<ReadAnswer> => {
      sent.push(ops.length);
      if (sent.length === 1) await new Promise<void>((resolve) => (block = resolve));
      if (ops.length > 1)
        throw Object.assign(new Error('RESOURCE_EXHAUSTED: message too large'), { code: 8 });
      return { results: map.at(ops, map.revision), revision: map.revision };
    };
    const { timers } = manualTimers();
    const batcher = new ReadBatcher({ windowMs: 5, maxOps: 100, send, timers });
    const first = batcher.read([{ key: 'a' }], undefined);
    const later = [batcher.read([{ key: 'a' }], undefined), batcher.read([{ key: 'b' }], undefined)];
    block?.();
    await first;
    const answers = await Promise.all(later);
    expect(answers.map((a) => a.results[0]?.length)).toEqual([1, 0]);
    expect(sent).toEqual([1, 2, 1, 1]);
  });

  it('a batch that fails fails each of its reads with that error (the caller retries)', async () => {
    const map = new VersionedMap();
    const { calls, send } = manualSender(map);
    const { timers } = manualTimers();
    const batcher = new ReadBatcher({ windowMs: 5, maxOps: 100, send, timers });
    const first = batcher.read([{ key: 'a' }], undefined);
    const later = [batcher.read([{ key: 'a' }], undefined), batcher.read([{ key: 'b' }], undefined)];
    calls[0]?.answer();
    await first;
    await flush();
    calls[1]?.fail(new Error('deadline exceeded'));
    const outcomes = await Promise.allSettled(later);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('property: any interleaving of reads, writes, timers and answers gives each read the state of a revision no older than its submission', async () => {
    type Step =
      | { kind: 'read'; keys: string[] }
      | { kind: 'write'; key: string }
      | { kind: 'answer'; pick: number }
      | { kind: 'fire' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        kind: fc.constant('read' as const),
        keys: fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('write' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('fire' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        async (steps, maxOps) => {
          const map = new VersionedMap();
          const { calls, send } = manualSender(map);
          const { timers, fire } = manualTimers();
          const batcher = new ReadBatcher({ windowMs: 5, maxOps, send, timers });
          const reads: { ops: ReadOp[]; submitted: number; answer: Promise<ReadAnswer> }[] = [];
          let writes = 0;
          for (const s of steps) {
            if (s.kind === 'read') {
              const ops = s.keys.map((key) => ({ key }));
              reads.push({ ops, submitted: map.revision, answer: batcher.read(ops, undefined) });
            } else if (s.kind === 'write') {
              map.write(s.key, `v${++writes}`);
            } else if (s.kind === 'answer' && calls.length > 0) {
              calls.splice(s.pick % calls.length, 1)[0]?.answer();
            } else if (s.kind === 'fire') {
              fire();
            }
            await flush();
          }
          // Drain: everything queued is eventually sent and answered (bounded rounds).
          for (let round = 0; round < 200; round++) {
            fire();
            if (calls.length === 0) break;
            for (const call of calls.splice(0)) call.answer();
            await flush();
          }
          for (const read of reads) {
            const { results, revision } = await read.answer;
            expect(revision).toBeGreaterThanOrEqual(read.submitted);
            expect(results).toEqual(map.at(read.ops, revision));
          }
          expect(batcher.stats.operations).toBe(reads.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
