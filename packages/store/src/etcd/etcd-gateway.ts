import { AsyncLocalStorage } from 'node:async_hooks';
import { LeaseholdError } from '@leasehold/domain';
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { MemberReachability } from './member-reachability.js';

/**
 * Our adapter over the `etcd3` client (DESIGN.md: "wrap it in our own adapter"). What it changes, and why:
 *
 * - No automatic retries (etcd3 defaults to 3 retries of *every* call, writes included). Retrying is the
 *   caller's decision: a transaction whose outcome is unknown is resolved by the store reading its own
 *   write back (its compares make a re-run harmless).
 * - A per-member breaker that opens after two deadlines in a row and half-opens after 500 ms, instead of etcd3's
 *   default (three failures of any kind, open 5 s, which held writes back 5-7 s after a leader kill here).
 *   Without any breaker a blackholed member cost a full call deadline each time the random pick landed on
 *   it: in the partition test a third of all calls failed for as long as one member was cut off. With it,
 *   calls go to the members that answer (measured: no failures after the partition settled). The
 *   breakers live in member-reachability.ts, which also tells when a majority of members stopped
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
}

export type Bytes = Buffer;

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
}

export type ReadOp =
  | { readonly key: string }
  | { readonly prefix: string }
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

const prefixEnd = (prefix: string): Buffer => {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
};

const rangeOp = (op: ReadOp) => ({
  request_range:
    'key' in op
      ? { key: Buffer.from(op.key) }
      : 'prefix' in op
        ? { key: Buffer.from(op.prefix), range_end: prefixEnd(op.prefix) }
        : 'within' in op
          ? { key: Buffer.from(op.from), range_end: prefixEnd(op.within) }
          : {
              key: Buffer.from(op.from),
              range_end: Buffer.from(op.to),
              limit: op.limit,
              ...(op.descending ? { sort_order: 'Descend' as const, sort_target: 'Key' as const } : {}),
            },
});

const rangeResult = (r: {
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
  /** Per-member breakers and latest outcomes: tells an operation when no quorum can answer it. */
  readonly #members: MemberReachability;

  constructor(options: EtcdConnectionOptions) {
    this.#callTimeoutMs = options.callTimeoutMs ?? 1000;
    this.credentials = options.credentials;
    // A failed call counts for four call deadlines (2 s by default). Measured in the partition test: with
    // two, a member's failure had often aged out before the next call reached it (its breaker open, the
    // calls going elsewhere), so operations of a cut-off node still waited a second deadline (p95 1.3 s).
    // A member that recovers is trusted again by its first answer, whatever this window.
    this.#members = new MemberReachability(4 * this.#callTimeoutMs);
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      credentials: options.credentials,
      dialTimeout: this.#callTimeoutMs,
      faultHandling: {
        host: (host) => this.#members.policyFor(host),
        global: noop,
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
   * True when a majority of the members failed their latest call just now (or are broken open): no
   * quorum can answer this node in time, so an operation that just failed gives up instead of retrying.
   */
  quorumUnreachable(): boolean {
    return this.#members.majorityFailing();
  }

  /** One linearizable read of several keys and prefixes at a single revision (one read-only txn). */
  async read(ops: readonly ReadOp[]): Promise<{ results: KeyValue[][]; revision: number }> {
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

  /** A conditional write. Never retried here: an error means the outcome is unknown. */
  async txn(
    compare: readonly Compare[],
    writes: readonly WriteOp[],
    onFailure: readonly ReadOp[] = [],
  ): Promise<TxnResult> {
    const response = await this.#call(() =>
      this.client.kv.txn({
        compare: compare.map((c) => ({
          key: Buffer.from(c.key),
          ...('within' in c ? { range_end: prefixEnd(c.within) } : {}),
          target: c.target,
          result: 'below' in c ? 'Less' : 'Equal',
          ...('below' in c
            ? { mod_revision: c.below }
            : c.target === 'Create'
              ? { create_revision: c.equals }
              : c.target === 'Mod'
                ? { mod_revision: c.equals }
                : { value: Buffer.from(String(c.equals)) }),
        })),
        success: writes.map((w) =>
          'put' in w
            ? { request_put: { key: Buffer.from(w.put), value: Buffer.from(w.value) } }
            : { request_delete_range: { key: Buffer.from(w.delete) } },
        ),
        failure: onFailure.map(rangeOp),
      }),
    );
    return {
      succeeded: response.succeeded,
      revision: Number(response.header.revision),
      failure: response.succeeded ? [] : response.responses.map(rangeResult),
    };
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new EtcdTransientError(`etcd: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
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
