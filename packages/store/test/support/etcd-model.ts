import type { Compare, KeyValue, ReadOp, TxnResult, WriteOp } from '../../src/etcd/etcd-gateway.js';
import { prefixEnd } from '../../src/etcd/txn-footprint.js';

export interface ModelTxn {
  readonly compare: readonly Compare[];
  readonly writes: readonly WriteOp[];
  readonly onFailure: readonly ReadOp[];
}

interface Stored {
  value: string;
  create: number;
  mod: number;
}

const bytes = (k: string) => Buffer.from(k);
const inRange = (key: string, from: string, end: Buffer) =>
  Buffer.compare(bytes(from), bytes(key)) <= 0 && Buffer.compare(bytes(key), end) < 0;

/**
 * An in-memory model of etcd's transaction semantics, as the etcd 3.5 server applies them: every compare
 * of a transaction, nested ones included, is evaluated against the state before the transaction; then
 * the chosen branches run in order (reads see the writes before them); one revision for all the writes;
 * a transaction that writes one key twice is refused whole.
 */
export class EtcdModel {
  readonly #kv = new Map<string, Stored>();
  revision = 1;

  /** One transaction: a lone operation, or one nested transaction per operation of a batch. */
  txn(ops: readonly ModelTxn[]): TxnResult[] {
    const written = new Set<string>();
    for (const op of ops)
      for (const w of op.writes) {
        const key = 'put' in w ? w.put : w.delete;
        if (written.has(key)) throw new Error('etcdserver: duplicate key given in txn request');
        written.add(key);
      }
    const outcomes = ops.map((op) => op.compare.every((c) => this.#holds(c)));
    const wrote = outcomes.some((ok, i) => ok && (ops[i]?.writes.length ?? 0) > 0);
    const revision = wrote ? this.revision + 1 : this.revision;
    const results = ops.map((op, i): TxnResult => {
      if (outcomes[i]) {
        for (const w of op.writes) {
          if ('put' in w) {
            const old = this.#kv.get(w.put);
            this.#kv.set(w.put, { value: w.value, create: old?.create ?? revision, mod: revision });
          } else this.#kv.delete(w.delete);
        }
        return { succeeded: true, revision, failure: [] };
      }
      return { succeeded: false, revision, failure: op.onFailure.map((r) => this.#read(r)) };
    });
    this.revision = revision;
    return results;
  }

  /** Key → value of everything stored (revisions left out: a batch shares one, one by one they differ). */
  values(): Record<string, string> {
    return Object.fromEntries([...this.#kv.entries()].sort().map(([k, v]) => [k, v.value]));
  }

  #holds(c: Compare): boolean {
    if ('within' in c) {
      const end = prefixEnd(c.within);
      const hits = [...this.#kv.entries()].filter(([k]) => inRange(k, c.key, end));
      return 'below' in c ? hits.every(([, v]) => v.mod < c.below) : hits.length === 0;
    }
    const kv = this.#kv.get(c.key);
    if (c.target === 'Create') return (kv?.create ?? 0) === c.equals;
    if (c.target === 'Mod') return (kv?.mod ?? 0) === c.equals;
    return kv !== undefined && kv.value === c.equals;
  }

  #read(r: ReadOp): KeyValue[] {
    const pick = (k: string) =>
      'key' in r ? k === r.key : 'prefix' in r ? inRange(k, r.prefix, prefixEnd(r.prefix)) : false;
    if (!('key' in r) && !('prefix' in r)) throw new Error('the model reads keys and prefixes only');
    return [...this.#kv.entries()]
      .filter(([k]) => pick(k))
      .sort(([a], [b]) => Buffer.compare(bytes(a), bytes(b)))
      .map(([key, v]) => ({
        key,
        value: Buffer.from(v.value),
        createRevision: v.create,
        modRevision: v.mod,
      }));
  }
}
