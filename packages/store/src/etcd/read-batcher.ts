import type { KeyValue, ReadOp } from './etcd-gateway.js';
import { type BatchTimers, TxnBatcher } from './txn-batcher.js';
import type { Footprint } from './txn-footprint.js';

/** The answer of one read: one list of key-values per read op, and the revision it was read at. */
export interface ReadAnswer {
  readonly results: KeyValue[][];
  readonly revision: number;
}

/** One store operation's read waiting for its read-only transaction (alone or gathered with others). */
export interface PendingRead {
  readonly ops: readonly ReadOp[];
  /** The deadline of the store operation that reads (performance.now() ms), if any. */
  readonly deadline: number | undefined;
}

export interface ReadBatcherOptions {
  /** How long a read may wait for others while a read is in flight; 0 sends every read alone. */
  readonly windowMs: number;
  /** Range ops per read-only transaction (under etcd's `--max-txn-ops`, 128 by default). */
  readonly maxOps: number;
  /** One linearizable read-only transaction of `ops`, under the deadline given (the latest of its reads'). */
  readonly send: (ops: readonly ReadOp[], deadline: number | undefined) => Promise<ReadAnswer>;
  readonly timers?: BatchTimers;
}

/** Reads write nothing: they never conflict, so any of them may share a transaction. */
const NO_FOOTPRINT: Footprint = { reads: [], writes: new Set(), writeBytes: [] };

/**
 * Read batching, on the group commit's machinery (txn-batcher.ts): linearizable reads that arrive while a
 * read is in flight wait (at most `windowMs`) and go to etcd together as ONE read-only transaction of
 * range ops — one gRPC call and one ReadIndex round for all of them, where each alone costs both. Each
 * read gets its own slice of the answer, as if sent alone: all of a batch are read at one revision, taken
 * after every one of them was submitted, so each is still linearizable (it sees every write that
 * finished before it was asked). Only reads of single keys are gathered (the gateway decides): their
 * answers are one small record each, so a batch stays far below gRPC's 4 MiB answer limit; prefix and
 * range reads, whose answers may be large, go alone. Should a gathered answer still exceed the limit
 * (RESOURCE_EXHAUSTED), each read of that batch is sent again alone rather than failing.
 */
export class ReadBatcher {
  readonly #batcher: TxnBatcher<PendingRead, ReadAnswer>;
  readonly #send: ReadBatcherOptions['send'];

  constructor(options: ReadBatcherOptions) {
    this.#send = options.send;
    this.#batcher = new TxnBatcher<PendingRead, ReadAnswer>({
      windowMs: options.windowMs,
      limits: { maxOps: options.maxOps, maxBytes: Number.MAX_SAFE_INTEGER, shape: 'flat' },
      send: (reads) => this.#sendBatch(reads),
      footprint: () => NO_FOOTPRINT,
      cost: (read) => ({ ops: read.ops.length, bytes: 0 }),
      ...(options.timers ? { timers: options.timers } : {}),
    });
  }

  /** How many read-only transactions and reads went to etcd. */
  get stats(): { readonly batches: number; readonly operations: number } {
    return this.#batcher.stats;
  }

  read(ops: readonly ReadOp[], deadline: number | undefined): Promise<ReadAnswer> {
    return this.#batcher.submit({ ops, deadline });
  }

  async #sendBatch(reads: readonly PendingRead[]): Promise<ReadAnswer[]> {
    const only = reads.length === 1 ? reads[0] : undefined;
    if (only) return [await this.#send(only.ops, only.deadline)];
    const deadline = reads.some((r) => r.deadline === undefined)
      ? undefined
      : Math.max(...reads.map((r) => r.deadline ?? 0));
    let answer: ReadAnswer;
    try {
      answer = await this.#send(
        reads.flatMap((r) => r.ops),
        deadline,
      );
    } catch (err) {
      if (!tooLarge(err)) throw err;
      return Promise.all(reads.map((r) => this.#send(r.ops, r.deadline)));
    }
    let at = 0;
    return reads.map((r) => {
      const results = answer.results.slice(at, at + r.ops.length);
      at += r.ops.length;
      return { results, revision: answer.revision };
    });
  }
}

/** gRPC's RESOURCE_EXHAUSTED (code 8): an answer over the 4 MiB message limit. */
function tooLarge(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined; e; ) {
    if (e.code === 8 || /RESOURCE_EXHAUSTED/.test(String(e.message))) return true;
    e = e.cause as typeof e;
  }
  return false;
}
