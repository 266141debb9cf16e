import type { Compare, ReadOp, WriteOp } from './etcd-gateway.js';

/** A key range [start, end); `end` undefined means the single key `start`. Bytes, as etcd orders keys. */
export interface KeyRange {
  readonly start: Buffer;
  readonly end?: Buffer;
}

/**
 * The keys one transaction reads (its compares and its failure reads) and writes. Two operations may
 * share one etcd transaction only when neither writes what the other reads or writes: etcd evaluates
 * every compare of a transaction, nested ones included, against the state before any of its writes, and
 * refuses a transaction that writes one key twice ("duplicate key given in txn request"). Operations
 * with disjoint footprints give the same results batched as run one after another, in any order.
 */
export interface Footprint {
  readonly reads: readonly KeyRange[];
  /** Written keys as strings (etcd keys are the UTF-8 bytes of our string keys). */
  readonly writes: ReadonlySet<string>;
  readonly writeBytes: readonly Buffer[];
}

/** The first key after every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function readRange(op: ReadOp): KeyRange {
  if ('key' in op) return { start: Buffer.from(op.key) };
  if ('prefix' in op) return { start: Buffer.from(op.prefix), end: prefixEnd(op.prefix) };
  if ('within' in op) return { start: Buffer.from(op.from), end: prefixEnd(op.within) };
  return { start: Buffer.from(op.from), end: Buffer.from(op.to) };
}

function compareRange(c: Compare): KeyRange {
  return 'within' in c
    ? { start: Buffer.from(c.key), end: prefixEnd(c.within) }
    : { start: Buffer.from(c.key) };
}

export function footprintOf(
  compare: readonly Compare[],
  writes: readonly WriteOp[],
  onFailure: readonly ReadOp[],
): Footprint {
  const keys = writes.map((w) => ('put' in w ? w.put : w.delete));
  return {
    reads: [...compare.map(compareRange), ...onFailure.map(readRange)],
    writes: new Set(keys),
    writeBytes: keys.map((k) => Buffer.from(k)),
  };
}

function contains(range: KeyRange, key: Buffer): boolean {
  if (range.end === undefined) return range.start.equals(key);
  return Buffer.compare(range.start, key) <= 0 && Buffer.compare(key, range.end) < 0;
}

/** True when `a` writes a key `b` reads or writes, or the other way round (see Footprint). */
export function conflicts(a: Footprint, b: Footprint): boolean {
  for (const key of a.writes) if (b.writes.has(key)) return true;
  for (const key of a.writeBytes) if (b.reads.some((r) => contains(r, key))) return true;
  for (const key of b.writeBytes) if (a.reads.some((r) => contains(r, key))) return true;
  return false;
}
