import type { Compare, KeyValue, ReadOp, TxnResult, WriteOp } from './etcd-gateway.js';
import { prefixEnd } from './txn-footprint.js';

/**
 * The gateway's operations as etcd's protobuf messages (the `etcd3` client's request and response
 * shapes), and back; kept apart from etcd-gateway.ts, which holds the call paths (batching, deadlines).
 */

export const rangeOp = (op: ReadOp) => ({
  request_range:
    'key' in op
      ? { key: Buffer.from(op.key) }
      : 'prefix' in op
        ? {
            key: Buffer.from(op.prefix),
            range_end: prefixEnd(op.prefix),
            ...('oldest' in op
              ? { limit: op.oldest, sort_order: 'Ascend' as const, sort_target: 'Create' as const }
              : {}),
          }
        : 'within' in op
          ? { key: Buffer.from(op.from), range_end: prefixEnd(op.within) }
          : {
              key: Buffer.from(op.from),
              range_end: Buffer.from(op.to),
              limit: op.limit,
              ...(op.descending ? { sort_order: 'Descend' as const, sort_target: 'Key' as const } : {}),
            },
});

export const rangeResult = (r: {
  response_range?: {
    kvs?: { key: Buffer; value: Buffer; create_revision: string | number; mod_revision: string | number }[];
  } | null;
}): KeyValue[] =>
  (r.response_range?.kvs ?? []).map((kv) => ({
    key: kv.key.toString(),
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  }));

/** One conditional write waiting for its transaction (alone or in a batch). */
export interface PendingTxn {
  readonly compare: readonly Compare[];
  readonly writes: readonly WriteOp[];
  readonly onFailure: readonly ReadOp[];
  /** The deadline of the store operation that wrote it (performance.now() ms), if any. */
  readonly deadline: number | undefined;
}

const compareOp = (c: Compare) => ({
  key: Buffer.from(c.key),
  ...('within' in c ? { range_end: prefixEnd(c.within) } : {}),
  target: c.target,
  result: 'below' in c ? ('Less' as const) : ('Equal' as const),
  ...('below' in c
    ? { mod_revision: c.below }
    : c.target === 'Create'
      ? { create_revision: c.equals }
      : c.target === 'Mod'
        ? { mod_revision: c.equals }
        : { value: Buffer.from(String(c.equals)) }),
});

const writeOp = (w: WriteOp) =>
  'put' in w
    ? { request_put: { key: Buffer.from(w.put), value: Buffer.from(w.value) } }
    : { request_delete_range: { key: Buffer.from(w.delete) } };

export const txnRequest = (op: PendingTxn) => ({
  compare: op.compare.map(compareOp),
  success: op.writes.map(writeOp),
  failure: op.onFailure.map(rangeOp),
});

type RangeResponseOp = Parameters<typeof rangeResult>[0];

export const txnResult = (
  r: { succeeded: boolean; responses: RangeResponseOp[] },
  revision: number,
): TxnResult => ({
  succeeded: r.succeeded,
  revision,
  failure: r.succeeded ? [] : r.responses.map(rangeResult),
});

/** What etcd counts of a nested transaction against `--max-txn-ops`: its largest list (txn-batcher.ts). */
export const txnCost = (op: PendingTxn) => {
  let bytes = 0;
  for (const c of op.compare) bytes += c.key.length + ('within' in c ? c.within.length : 0) + 16;
  for (const w of op.writes) bytes += 'put' in w ? w.put.length + w.value.length + 8 : w.delete.length + 8;
  for (const r of op.onFailure) bytes += JSON.stringify(r).length;
  return { ops: Math.max(op.compare.length, op.writes.length, op.onFailure.length), bytes };
};
