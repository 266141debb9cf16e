import { type Footprint, FootprintUnion } from './txn-footprint.js';

/**
 * What a batch may hold: etcd's `--max-txn-ops` (default 128) and well under `--max-request-bytes`
 * (1.5 MiB). How etcd counts depends on the batch's shape:
 * - `nested` (the write batcher: one nested transaction per operation): etcd checks the outer list (one
 *   entry per operation) against `--max-txn-ops`, and each nested transaction's largest list against what
 *   the outer one leaves, so n operations fit when n + the largest of their lists <= maxOps (checked
 *   against etcd 3.5: 120 nested transactions of 8 writes pass, 125 of 4 and 64 of 65 answer "too many
 *   operations in txn request");
 * - `flat` (the read batcher: every operation's reads in one list): the operations' lists add up.
 */
export interface BatchLimits {
  readonly maxOps: number;
  readonly maxBytes: number;
  readonly shape: 'nested' | 'flat';
}

export interface BatchCost {
  /** The operation's largest list (its compares, writes or failure reads, whichever is longest). */
  readonly ops: number;
  readonly bytes: number;
}

/** The etcd operation count of a batch whose entries have these costs (see BatchLimits). */
export function batchOps(
  shape: BatchLimits['shape'],
  count: number,
  sumOps: number,
  largestOps: number,
): number {
  return shape === 'nested' ? count + largestOps : sumOps;
}

/** Timers, injected so that tests can drive the window (STYLE.md rule 4). */
export interface BatchTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface TxnBatcherOptions<Op, R> {
  /**
   * How long an operation may wait for others while a batch is in flight; 0 turns batching off. When no
   * batch is in flight an operation is sent at once, so an idle node adds no latency.
   */
  readonly windowMs: number;
  readonly limits: BatchLimits;
  /** Sends operations as ONE etcd transaction; answers one result per operation, in order. */
  readonly send: (ops: readonly Op[]) => Promise<R[]>;
  readonly footprint: (op: Op) => Footprint;
  readonly cost: (op: Op) => BatchCost;
  readonly timers?: BatchTimers;
  /**
   * While this many batches are in flight, gathered operations wait for one of them to return rather than
   * go at the window's end, up to `maxWaitWindows` windows (default: no limit, the window alone decides).
   * A window only bounds how long an operation waits, so under load a batch held the operations of one
   * window (~2 ms): the fewer operations a node served, the smaller its batches (measured in bench:ha:
   * see docs/ha.md, "Group commit").
   */
  readonly maxInFlight?: number;
  /** How many windows gathered operations wait at most while `maxInFlight` batches are in flight. */
  readonly maxWaitWindows?: number;
}

interface Entry<Op, R> {
  readonly op: Op;
  readonly footprint: Footprint;
  readonly cost: BatchCost;
  readonly resolve: (result: R) => void;
  readonly reject: (err: unknown) => void;
}

/** How many batches and operations went to etcd (the mean batch size is their ratio). */
export interface BatchStats {
  batches: number;
  operations: number;
}

const realTimers: BatchTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Group commit: operations submitted while a batch is in flight wait (at most `windowMs`, or until the
 * batch limits are reached, or until nothing is in flight any more) and then go to etcd together as one
 * transaction — one Raft proposal and one quorum fsync for all of them. Each operation keeps its own
 * compares and its own result (the sender nests one transaction per operation). Operations whose
 * footprints conflict (txn-footprint.ts) never share a batch: the later one goes into a later batch, in
 * the order submitted. A batch that fails fails each of its operations with the same error: an unknown
 * outcome for each, which the caller resolves by re-reading, as for a transaction of its own.
 */
export class TxnBatcher<Op, R> {
  readonly stats: BatchStats = { batches: 0, operations: 0 };
  readonly #options: TxnBatcherOptions<Op, R>;
  readonly #timers: BatchTimers;
  #queue: Entry<Op, R>[] = [];
  #queuedOps = 0;
  #queuedLargest = 0;
  #queuedBytes = 0;
  #inFlight = 0;
  #timer: unknown;
  /** Windows the queue has waited past while `maxInFlight` batches were in flight (0: its window runs). */
  #waited = 0;

  constructor(options: TxnBatcherOptions<Op, R>) {
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
  }

  submit(op: Op): Promise<R> {
    const [result] = this.submitAll([op]);
    return result as Promise<R>;
  }

  /**
   * Submits several operations together: they join the queue before any of them can be sent, so an
   * idle batcher sends them as one batch (as far as footprints and limits allow) instead of sending the
   * first alone and the rest after it. One result per operation, in order. A bulk caller (the renewal of
   * many leases, an expiry sweep) gets one Raft proposal where a loop of `submit` would get two.
   */
  submitAll(ops: readonly Op[]): Promise<R>[] {
    const { windowMs, limits } = this.#options;
    if (windowMs <= 0) {
      return ops.map((op) => {
        this.stats.batches++;
        this.stats.operations++;
        return this.#options.send([op]).then((results) => results[0] as R);
      });
    }
    const results = ops.map(
      (op) =>
        new Promise<R>((resolve, reject) => {
          const cost = this.#options.cost(op);
          this.#queue.push({ op, footprint: this.#options.footprint(op), cost, resolve, reject });
          this.#queuedOps += cost.ops;
          this.#queuedLargest = Math.max(this.#queuedLargest, cost.ops);
          this.#queuedBytes += cost.bytes;
        }),
    );
    const queuedOps = batchOps(limits.shape, this.#queue.length, this.#queuedOps, this.#queuedLargest);
    const full = queuedOps >= limits.maxOps || this.#queuedBytes >= limits.maxBytes;
    if (this.#inFlight === 0 || full) {
      this.#flush();
    } else if (this.#timer === undefined && this.#queue.length > 0) {
      this.#arm();
    }
    return results;
  }

  /** The window: at its end the queue goes, unless `maxInFlight` batches still are in flight. */
  #arm(): void {
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined;
      const { maxInFlight = Number.POSITIVE_INFINITY, maxWaitWindows = Number.POSITIVE_INFINITY } =
        this.#options;
      if (this.#inFlight < maxInFlight || ++this.#waited >= maxWaitWindows) {
        this.#flush();
      } else {
        this.#arm(); // a return sends the queue; this bounds the wait should none come (a member hangs)
      }
    }, this.#options.windowMs);
  }

  /** Sends everything queued, as few batches as the footprints and limits allow. */
  #flush(): void {
    if (this.#timer !== undefined) {
      this.#timers.clear(this.#timer);
      this.#timer = undefined;
    }
    this.#waited = 0;
    let queue = this.#queue;
    this.#queue = [];
    this.#queuedOps = 0;
    this.#queuedLargest = 0;
    this.#queuedBytes = 0;
    while (queue.length > 0) {
      const { batch, rest } = this.#take(queue);
      this.#dispatch(batch);
      queue = rest;
    }
  }

  /**
   * The first batch of a queue, in order: an entry joins unless it conflicts with one already in, or with
   * one held back (so conflicting operations keep their order), or would pass the limits.
   */
  #take(queue: readonly Entry<Op, R>[]): { batch: Entry<Op, R>[]; rest: Entry<Op, R>[] } {
    const { maxOps, maxBytes, shape } = this.#options.limits;
    const batch: Entry<Op, R>[] = [];
    const rest: Entry<Op, R>[] = [];
    // The footprints in the batch and those held back, each as one union (txn-footprint.ts): a check
    // costs an entry's keys, not the queue's length.
    const inBatch = new FootprintUnion();
    const heldBack = new FootprintUnion();
    let sum = 0;
    let largest = 0;
    let bytes = 0;
    for (const [i, entry] of queue.entries()) {
      // Full even for an operation of no cost: the rest waits, unchecked (only joining needs the checks).
      if (batch.length > 0 && batchOps(shape, batch.length + 1, sum, largest) > maxOps) {
        rest.push(...queue.slice(i));
        break;
      }
      const { ops } = entry.cost;
      const fits =
        batch.length === 0 ||
        (batchOps(shape, batch.length + 1, sum + ops, Math.max(largest, ops)) <= maxOps &&
          bytes + entry.cost.bytes <= maxBytes);
      if (fits && !inBatch.conflictsWith(entry.footprint) && !heldBack.conflictsWith(entry.footprint)) {
        batch.push(entry);
        inBatch.add(entry.footprint);
        sum += ops;
        largest = Math.max(largest, ops);
        bytes += entry.cost.bytes;
      } else {
        rest.push(entry);
        heldBack.add(entry.footprint);
      }
    }
    return { batch, rest };
  }

  #dispatch(batch: readonly Entry<Op, R>[]): void {
    this.#inFlight++;
    this.stats.batches++;
    this.stats.operations += batch.length;
    this.#options
      .send(batch.map((e) => e.op))
      .then(
        (results) => {
          for (const [i, entry] of batch.entries()) entry.resolve(results[i] as R);
        },
        (err: unknown) => {
          for (const entry of batch) entry.reject(err);
        },
      )
      .finally(() => {
        this.#inFlight--;
        // Nothing in flight any more, or the queue's window ended while the most allowed were: what
        // gathered meanwhile goes now.
        const due =
          this.#waited > 0 && this.#inFlight < (this.#options.maxInFlight ?? Number.POSITIVE_INFINITY);
        if ((this.#inFlight === 0 || due) && this.#queue.length > 0) this.#flush();
      });
  }
}
