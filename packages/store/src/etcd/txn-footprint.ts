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

/**
 * Many footprints together, asked whether one more conflicts with any of them: the answer of
 * `footprints.some((f) => conflicts(entry, f))`, in time that grows with the entry's keys, not with the
 * number of footprints. The batcher asks it for every queued operation; pairing each with every other cost
 * 50-110 ms of CPU per 1,000 (an expiry sweep's batch, measured), most of the sweep's work on the node.
 * Point reads and writes are looked up by key; a range read (rare: a checkout's pool compare, a prefix
 * read on failure) is still checked against the keys one by one.
 */
export class FootprintUnion {
  readonly #writes = new Set<string>();
  readonly #writeBytes: Buffer[] = [];
  readonly #pointReads = new Set<string>();
  readonly #rangeReads: KeyRange[] = [];

  add(f: Footprint): void {
    for (const key of f.writes) this.#writes.add(key);
    this.#writeBytes.push(...f.writeBytes);
    for (const r of f.reads) {
      if (r.end === undefined) this.#pointReads.add(r.start.toString());
      else this.#rangeReads.push(r);
    }
  }

  conflictsWith(f: Footprint): boolean {
    for (const key of f.writes) if (this.#writes.has(key) || this.#pointReads.has(key)) return true;
    if (this.#rangeReads.length > 0) {
      for (const key of f.writeBytes) if (this.#rangeReads.some((r) => contains(r, key))) return true;
    }
    for (const r of f.reads) {
      if (r.end === undefined) {
        if (this.#writes.has(r.start.toString())) return true;
      } else if (this.#writeBytes.some((key) => contains(r, key))) return true;
    }
    return false;
  }
}
