import { AsyncLocalStorage } from 'node:async_hooks';
import { LeaseholdError } from '@leasehold/domain';
import type { Etcd3, IOptions } from 'etcd3';
import { type PendingTxn, rangeOp, rangeResult, txnCost, txnRequest, txnResult } from './etcd-wire.js';
import { cockatiel, etcd3 } from './etcd3-module.js';
import { MemberReachability } from './member-reachability.js';
import { type ReadAnswer, ReadBatcher } from './read-batcher.js';
import { type BatchStats, TxnBatcher } from './txn-batcher.js';
import { footprintOf, prefixEnd } from './txn-footprint.js';

/**
 * Our adapter over the `etcd3` client (DESIGN.md: "wrap it in our own adapter"). What it changes, and why:
 *
 * - No automatic retries (etcd3 defaults to 3 retries of *every* call, writes included). Retrying is the
 *   caller's decision: a transaction whose outcome is unknown is resolved by the store reading its own
 *   write back (its compares make a re-run harmless).
 * - Calls skip a member whose latest call did not answer, until it answers a probe sent off the request
 *   path (member-reachability.ts; it replaced etcd3's breakers, then ours, whose half-open state let real
 *   calls wait on a cut-off member). Without any of that a blackholed member cost a full call deadline
 *   each time the random pick landed on it: in the partition test a third of all calls failed for as long
 *   as one member was cut off. member-reachability.ts also tells when a majority of members stopped
 *   answering: then an operation gives up at once instead of retrying to the end of its budget.
 * - Every call's deadline is capped by what is left of its store operation's budget, so an operation
 *   gives up when its budget ends, not one call deadline later.
 * - A deadline on every unary call, so a node without quorum answers 503 within its budget instead of
 *   hanging, and gRPC keepalives so a dead connection is noticed without traffic.
 */
export interface EtcdConnectionOptions {
  readonly endpoints: readonly string[];
  /** Per-call deadline; a call to a member without quorum fails after this long. */
  readonly callTimeoutMs?: number;
  /**
   * Mutual TLS to etcd (endpoints `https://`): the CA that signed the members' certificates, and our
   * client certificate and key, all PEM. etcd started with `--client-cert-auth` refuses a client without.
   */
  readonly credentials?: IOptions['credentials'];
  /**
   * Group commit (txn-batcher.ts): how long a conditional write may wait for others while a batch is in
   * flight, to go to etcd with them as one transaction. 0 sends every write alone.
   */
  readonly batchWindowMs?: number;
  /**
   * Group commit: at most this many batches of writes in flight; the next waits for one to return (at most
   * MAX_WAIT_WINDOWS windows). 0: no limit. Default DEFAULT_BATCH_MAX_IN_FLIGHT.
   */
  readonly batchMaxInFlight?: number;
  /** Read batching (read-batcher.ts): the same for single-key reads; `batchWindowMs` when not given. */
  readonly readBatchWindowMs?: number;
  /** etcd's `--max-txn-ops` (default 128): a batch never uses more. */
  readonly maxTxnOps?: number;
}

/** The default group-commit window (docs/ha.md, "Group commit", has the measurements behind it). */
export const DEFAULT_BATCH_WINDOW_MS = 2;
/**
 * One batch of writes in flight per node (docs/ha.md, "Group commit"): what gathers meanwhile goes when it
 * returns, so a node's batch holds every write that arrived during one etcd round trip, not one window's.
 */
export const DEFAULT_BATCH_MAX_IN_FLIGHT = 1;
/** How many windows writes wait at most for a batch in flight to return (a member that hangs: 50 ms). */
const MAX_WAIT_WINDOWS = 25;

export type Bytes = Buffer;

/** What an out member's probe reads (count only): any key does, see the probe in EtcdGateway. */
const PROBE_KEY = '/leasehold-member-probe';

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
}

export type ReadOp =
  | { readonly key: string }
  | { readonly prefix: string }
  /** The `oldest` keys of a prefix by create revision (a queue read in commit order, bounded). */
  | { readonly prefix: string; readonly oldest: number }
  /** Keys in [from, prefixEnd(within)): the tail of a prefix from one key on. */
  | { readonly from: string; readonly within: string }
  /** Keys in [from, to), at most `limit` of them, by key (descending: from the end): paging. */
  | { readonly from: string; readonly to: string; readonly limit: number; readonly descending?: boolean };

export type Compare =
  | { readonly key: string; readonly target: 'Create' | 'Mod'; readonly equals: number }
  /** Every key in [key, prefixEnd(within)) — vacuously true when there are none (etcd's range compare). */
  | { readonly key: string; readonly within: string; readonly target: 'Create'; readonly equals: 0 }
  /** Every key in the range was last modified before `below` (nothing created or changed since a read). */
  | { readonly key: string; readonly within: string; readonly target: 'Mod'; readonly below: number }
  | { readonly key: string; readonly target: 'Value'; readonly equals: string };

export type WriteOp = { readonly put: string; readonly value: string } | { readonly delete: string };

export interface TxnResult {
  readonly succeeded: boolean;
  /** The store revision after the transaction: the revision of its writes when it succeeded. */
  readonly revision: number;
  /** What the `onFailure` reads found, when the compares failed (to tell which one did). */
  readonly failure: KeyValue[][];
}

/** The result of a write, or an unknown outcome when its operation's deadline passes first. */
function withinDeadline<T>(result: Promise<T>, deadline: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new EtcdTransientError('etcd: the operation deadline passed before its transaction answered')),
      Math.max(0, deadline - performance.now()),
    );
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Marks an etcd failure the caller may retry (unavailable, deadline, leader change, unknown outcome). */
export class EtcdTransientError extends Error {
  override readonly name = 'EtcdTransientError';
}

/** The deadline (performance.now() ms) of the store operation running in this async context. */
export const operationDeadline = new AsyncLocalStorage<number>();

export class EtcdGateway {
  readonly client: Etcd3;
  /** The TLS credentials of the connection, for other calls to the same members (the JSON gateway). */
  readonly credentials: IOptions['credentials'];
  readonly #callTimeoutMs: number;
  /** Per-member latest outcomes: which members calls skip, and when no quorum can answer at all. */
  readonly #members: MemberReachability;
  readonly #batcher: TxnBatcher<PendingTxn, TxnResult>;
  readonly #reads: ReadBatcher;

  constructor(options: EtcdConnectionOptions) {
    this.#callTimeoutMs = options.callTimeoutMs ?? 1000;
    this.credentials = options.credentials;
    const callTimeoutMs = this.#callTimeoutMs;
    this.#members = new MemberReachability({
      // A failed call counts for four call deadlines (2 s by default). Measured in the partition test: with
      // two, a member's failure had often aged out before the next call reached it, so operations of a
      // cut-off node still waited a second deadline (p95 1.3 s). An out member's probes fail at most
      // maxProbeAfterMs + one deadline apart, so its failure stays recent for as long as it is out.
      recentMs: 4 * callTimeoutMs,
      judgeAfterMs: callTimeoutMs / 2,
      // The first probe after half a deadline (the breaker half-opened after 500 ms), then 1x, 2x: a
      // member back from a restart or a heal takes calls again within about a second.
      probeAfterMs: callTimeoutMs / 2,
      maxProbeAfterMs: 2 * callTimeoutMs,
      // A linearizable read (it needs the member's leader and a quorum, as our calls do) of one key,
      // counted only: nothing comes back. With etcd's RBAC on, the read index is taken before the
      // permission check, so even a refusal proves a quorum answered.
      probe: () =>
        operationDeadline.run(performance.now() + callTimeoutMs, () =>
          this.client.kv.range({ key: Buffer.from(PROBE_KEY), count_only: true }),
        ),
    });
    const maxTxnOps = options.maxTxnOps ?? 128;
    this.#reads = new ReadBatcher({
      windowMs: options.readBatchWindowMs ?? options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
      // As getMany's chunks: a chunk of single-key reads fills one batch alone.
      maxOps: Math.min(100, maxTxnOps),
      send: (ops, deadline) =>
        operationDeadline.run(deadline ?? Number.POSITIVE_INFINITY, () => this.#readNow(ops)),
    });
    this.#batcher = new TxnBatcher<PendingTxn, TxnResult>({
      windowMs: options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
      // etcd counts the outer transaction's operations against what each nested one may use.
      limits: { maxOps: maxTxnOps, maxBytes: 1024 * 1024, shape: 'nested' },
      send: (ops) => this.#send(ops),
      footprint: (op) => footprintOf(op.compare, op.writes, op.onFailure),
      cost: txnCost,
      maxInFlight: (options.batchMaxInFlight ?? DEFAULT_BATCH_MAX_IN_FLIGHT) || Number.POSITIVE_INFINITY,
      maxWaitWindows: MAX_WAIT_WINDOWS,
    });
    const { Etcd3 } = etcd3();
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      credentials: options.credentials,
      dialTimeout: this.#callTimeoutMs,
      faultHandling: {
        host: (host) => this.#members.policyFor(host),
        global: cockatiel().noop,
      },
      defaultCallOptions: (context) => {
        if (context.isStream) return {};
        const left = (operationDeadline.getStore() ?? Number.POSITIVE_INFINITY) - performance.now();
        return { deadline: new Date(Date.now() + Math.max(1, Math.min(this.#callTimeoutMs, left))) };
      },
      grpcOptions: {
        // DESIGN.md: keepalive >= 5 s. At exactly etcd's minimum (5 s) and with pings on idle connections,
        // etcd 3.5 closed our connections for "excess pings" (~20 times per node per fault run): 10 s, and
        // pings only while calls are active.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 2000,
        'grpc.keepalive_permit_without_calls': 0,
      },
    });
  }

  /**
   * True when a majority of the members failed their latest call just now: no
   * quorum can answer this node in time, so an operation that just failed gives up instead of retrying.
   */
  quorumUnreachable(): boolean {
    return this.#members.majorityFailing();
  }

  /**
   * One linearizable read of several keys and prefixes at a single revision (one read-only txn). Reads of
   * single keys only may share their transaction with other such reads (read-batcher.ts).
   */
  read(ops: readonly ReadOp[]): Promise<ReadAnswer> {
    if (!ops.every((op) => 'key' in op)) return this.#readNow(ops);
    const deadline = operationDeadline.getStore();
    const answer = this.#reads.read(ops, deadline);
    return deadline === undefined || !Number.isFinite(deadline) ? answer : withinDeadline(answer, deadline);
  }

  async #readNow(ops: readonly ReadOp[]): Promise<ReadAnswer> {
    const response = await this.#call(() =>
      this.client.kv.txn({
        compare: [],
        success: ops.map(rangeOp),
        failure: [],
      }),
    );
    return { revision: Number(response.header.revision), results: response.responses.map(rangeResult) };
  }

  /**
   * Every key in [from, prefixEnd(within)) at `revision`, in pages of at most `pageSize` keys. One range answer is one gRPC
   * message, capped at 4 MiB: the slot keys of 100,000 live leases are ~8.6 MB and a single range over
   * them failed with RESOURCE_EXHAUSTED (bench:scale --etcd). Each page is pinned to the same revision,
   * so the pages together are one snapshot, the same as one read would have been.
   */
  rangeAt(from: string, within: string, revision: number, pageSize = 10_000): Promise<KeyValue[]> {
    return this.rangeBetweenAt(from, prefixEnd(within), revision, pageSize);
  }

  /** Every key in [from, to) at `revision`, in pages (as `rangeAt`, with the end given as a key). */
  async rangeBetweenAt(
    from: string,
    to: string | Buffer,
    revision: number,
    pageSize = 10_000,
  ): Promise<KeyValue[]> {
    const found: KeyValue[] = [];
    let key = Buffer.from(from);
    const end = Buffer.from(to);
    for (;;) {
      const response = await this.#call(() =>
        this.client.kv.range({ key, range_end: end, limit: pageSize, revision }),
      );
      const page = rangeResult({ response_range: response });
      found.push(...page);
      const last = page.at(-1);
      if (!response.more || last === undefined) return found;
      key = Buffer.concat([Buffer.from(last.key), Buffer.from([0])]); // the next key after the last one read
    }
  }

  /**
   * How many keys a prefix holds (at `revision` when given), without reading them (a metrics gauge of a
   * queue that may be long; seat usage's count of a pool's slot keys).
   */
  async count(prefix: string, revision?: number): Promise<number> {
    const response = await this.#call(() =>
      this.client.kv.range({
        key: Buffer.from(prefix),
        range_end: prefixEnd(prefix),
        count_only: true,
        ...(revision === undefined ? {} : { revision }),
      }),
    );
    return Number(response.count);
  }

  /**
   * Many single keys, in read transactions of at most 100 operations (etcd refuses more than
   * --max-txn-ops, 128 by default). Not one snapshot across chunks; callers compare before writing.
   */
  async getMany(keys: readonly string[]): Promise<(KeyValue | undefined)[]> {
    const found: (KeyValue | undefined)[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      const { results } = await this.read(keys.slice(i, i + 100).map((key) => ({ key })));
      for (const r of results) found.push(r[0]);
    }
    return found;
  }

  /**
   * A conditional write. Never retried here: an error means the outcome is unknown. With group commit on,
   * it may travel to etcd nested in one transaction with other writes (txn-batcher.ts); its compares, its
   * writes and its result are its own either way.
   */
  txn(
    compare: readonly Compare[],
    writes: readonly WriteOp[],
    onFailure: readonly ReadOp[] = [],
  ): Promise<TxnResult> {
    const [result] = this.txnMany([{ compare, writes, onFailure }]);
    return result as Promise<TxnResult>;
  }

  /**
   * Several independent conditional writes submitted together, so that the batcher sends them in one
   * etcd transaction (one Raft proposal) where their footprints and etcd's limits allow. Each keeps its
   * own compares and result, as if sent by `txn` one by one; an error is an unknown outcome of that write.
   */
  txnMany(
    txns: readonly {
      readonly compare: readonly Compare[];
      readonly writes: readonly WriteOp[];
      readonly onFailure?: readonly ReadOp[];
    }[],
  ): Promise<TxnResult>[] {
    const deadline = operationDeadline.getStore();
    const results = this.#batcher.submitAll(
      txns.map((t) => ({ compare: t.compare, writes: t.writes, onFailure: t.onFailure ?? [], deadline })),
    );
    return deadline === undefined || !Number.isFinite(deadline)
      ? results
      : results.map((result) => withinDeadline(result, deadline));
  }

  /** How many transactions and writes went to etcd (writes per transaction: the mean batch size). */
  get batchStats(): Readonly<BatchStats> {
    return this.#batcher.stats;
  }

  /** How many read-only transactions and single-key reads went to etcd (read-batcher.ts). */
  get readBatchStats(): Readonly<BatchStats> {
    return this.#reads.stats;
  }

  /** One etcd transaction for `ops`: the operation itself when alone, else one nested txn per operation. */
  async #send(ops: readonly PendingTxn[]): Promise<TxnResult[]> {
    const only = ops.length === 1 ? ops[0] : undefined;
    // The call's deadline: the latest of its operations' (each gives up at its own, see txn()).
    const deadline = ops.some((op) => op.deadline === undefined)
      ? Number.POSITIVE_INFINITY
      : Math.max(...ops.map((op) => op.deadline ?? 0));
    const response = await operationDeadline.run(deadline, () =>
      this.#call(() =>
        this.client.kv.txn(
          only
            ? txnRequest(only)
            : { compare: [], success: ops.map((op) => ({ request_txn: txnRequest(op) })), failure: [] },
        ),
      ),
    );
    const revision = Number(response.header.revision);
    if (only) return [txnResult(response, revision)];
    return ops.map((_, i) => {
      const nested = response.responses[i]?.response_txn;
      if (!nested)
        throw new EtcdTransientError('etcd: a batched transaction answered without its nested result');
      return txnResult(nested, revision);
    });
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#members.call(fn);
    } catch (err) {
      throw new EtcdTransientError(`etcd: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    this.#members.close();
    this.client.close();
  }
}

/** The error a store operation gives when its budget ran out without an etcd quorum answering. */
export function storeUnavailable(cause: unknown): LeaseholdError {
  return new LeaseholdError(
    'STORE_UNAVAILABLE',
    `no etcd quorum answered in time (${(cause as Error)?.message ?? String(cause)})`,
    undefined,
    { cause },
  );
}
