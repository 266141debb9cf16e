/**
 * The fault run's history: every HTTP call a client made (with when it was sent and when its answer — or
 * its failure — came back) and every fault the nemesis injected.
 *
 * Clock: every instant in a history is a wall-clock reading, `Date.now()` (ms since the epoch). The
 * checker compares call and return times with the `expiresAt` / `reservedUntil` instants the nodes return,
 * which are the same machine's wall clock (the nodes run on loopback next to the test), so one clock for
 * everything avoids mixing time bases. Durations printed in the summary are differences of these readings.
 * A clock-step fault (the soak) is the exception by design: the stepped node reads its wall clock up to
 * the step off from this one, and the checker is told that bound (checker.ts, `clockToleranceMs`).
 */
export const now = (): number => Date.now();

export type OpKind = 'checkout' | 'renew' | 'checkin';

/**
 * - `ok`: a 2xx answer.
 * - `fail`: an HTTP error answer (problem+json with `code` and `retryable`, when the node sent one).
 * - `unknown`: no complete answer — timeout, connection refused or reset, unreadable body. The call may or
 *   may not have taken effect.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

export interface Op {
  /** Order of recording (return order); ids are unique within a history. */
  readonly seq: number;
  readonly client: string;
  readonly kind: OpKind;
  /** The node asked (its name, e.g. `node-2`). */
  readonly node: string;
  /** `license/feature` this operation is about. */
  readonly pool: string;
  /** When the request was sent (Date.now()). */
  readonly call: number;
  /** When the answer or the failure came back (Date.now()). */
  readonly ret: number;
  readonly outcome: Outcome;
  readonly status?: number;
  readonly code?: string;
  readonly retryable?: boolean;
  /** Why an `unknown` call failed: `timeout`, `ECONNREFUSED`, … */
  readonly error?: string;
  /** Checkouts: the request id sent (the same on every retry of one checkout). */
  readonly requestId?: string;
  /** Renew/checkin: the lease acted on. Successful checkout: the lease granted. */
  readonly leaseId?: string;
  /** The lease id in a 2xx answer (for a renew or checkin it must equal `leaseId`). */
  readonly answeredId?: string;
  /** The lease's state in a 2xx answer: `active`, `released`, `expired`, … */
  readonly state?: string;
  /** From a successful answer: the lease's expiry and store reservation (ms since the epoch). */
  readonly expiresAt?: number;
  readonly reservedUntil?: number;
  readonly slot?: number;
  readonly fence?: number;
  /** From a successful answer: the request id the lease records, and its license/feature. */
  readonly leaseRequestId?: string;
  readonly leasePool?: string;
}

/**
 * Every kind of fault a nemesis can inject. The fault run cycles through the first four
 * ({@link PROCESS_FAULT_KINDS}); the soak (soak/) adds the rest, which need a network namespace of their
 * own (partitions: nftables drops between chosen addresses) and libfaketime in the nodes (clock steps).
 */
export const FAULT_KINDS = [
  'etcd-leader-kill',
  'node-kill',
  'etcd-pause',
  'node-pause',
  'etcd-follower-kill',
  'partition',
  'clock-step',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** SIGKILL and SIGSTOP of etcd members and nodes: what any DevCluster can suffer (the fault run's set). */
export const PROCESS_FAULT_KINDS = [
  'etcd-leader-kill',
  'node-kill',
  'etcd-pause',
  'node-pause',
] as const satisfies readonly FaultKind[];

export interface Fault {
  readonly kind: FaultKind;
  /**
   * The member or node hit, e.g. `etcd2 (leader)` or `node-1`; for a partition the two sides
   * (`node-2 | etcd1,etcd2,etcd3`), for a clock step the node and the step (`node-1 +2000 ms`).
   */
  readonly target: string;
  /** When the signal was sent (SIGKILL / SIGSTOP), the cut made, or the clock stepped. */
  readonly start: number;
  /**
   * When the fault was lifted: the restarted process serves again, SIGCONT was sent, the cut healed, or
   * the clock stepped back.
   */
  readonly end: number;
  /** When the cluster was whole again (etcd healthy with a leader, the node ready); undefined if never. */
  readonly healed: number | undefined;
}

export interface HistoryData {
  readonly ops: readonly Op[];
  readonly faults: readonly Fault[];
}

/** An append-only recorder; the workload and the nemesis write, the checker reads `ops` and `faults`. */
export class History implements HistoryData {
  readonly ops: Op[] = [];
  readonly faults: Fault[] = [];

  add(op: Omit<Op, 'seq'>): Op {
    const recorded = { seq: this.ops.length, ...op };
    this.ops.push(recorded);
    return recorded;
  }

  addFault(fault: Fault): void {
    this.faults.push(fault);
  }
}

export interface NodeRef {
  readonly name: string;
  readonly url: string;
}

export interface CallSpec {
  readonly client: string;
  readonly kind: OpKind;
  readonly node: NodeRef;
  readonly pool: string;
  readonly method: 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly requestId?: string;
  readonly leaseId?: string;
}

/**
 * Sends one request with its own timeout (covering the body too) and records it. Never throws: a failure
 * to get an answer is an `unknown` outcome.
 */
export async function recordedFetch(
  history: History,
  token: string,
  timeoutMs: number,
  spec: CallSpec,
): Promise<Op> {
  const base = {
    client: spec.client,
    kind: spec.kind,
    node: spec.node.name,
    pool: spec.pool,
    ...(spec.requestId !== undefined ? { requestId: spec.requestId } : {}),
    ...(spec.leaseId !== undefined ? { leaseId: spec.leaseId } : {}),
  };
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  const call = now();
  let status: number | undefined;
  let text: string;
  try {
    const res = await fetch(`${spec.node.url}${spec.path}`, {
      method: spec.method,
      headers,
      ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    return history.add({
      ...base,
      call,
      ret: now(),
      outcome: 'unknown',
      ...(status !== undefined ? { status } : {}),
      error: describeFetchError(err),
    });
  }
  const ret = now();
  const body = parseObject(text);
  if (status >= 200 && status < 300) {
    const fields = leaseFields(body);
    const granted = spec.kind === 'checkout' && fields.answeredId !== undefined;
    return history.add({
      ...base,
      call,
      ret,
      outcome: 'ok',
      status,
      ...fields,
      ...(granted ? { leaseId: fields.answeredId } : {}),
    });
  }
  const code = typeof body?.code === 'string' ? body.code : undefined;
  const retryable = typeof body?.retryable === 'boolean' ? body.retryable : status >= 500;
  return history.add({
    ...base,
    call,
    ret,
    outcome: 'fail',
    status,
    retryable,
    ...(code !== undefined ? { code } : {}),
  });
}

function leaseFields(body: Record<string, unknown> | undefined): Partial<Op> {
  if (!body) return {};
  const fields: {
    -readonly [K in keyof Op]?: Op[K];
  } = {};
  if (typeof body.id === 'string') fields.answeredId = body.id;
  if (typeof body.state === 'string') fields.state = body.state;
  const expiresAt = typeof body.expiresAt === 'string' ? Date.parse(body.expiresAt) : Number.NaN;
  if (Number.isFinite(expiresAt)) fields.expiresAt = expiresAt;
  const reservedUntil = typeof body.reservedUntil === 'string' ? Date.parse(body.reservedUntil) : Number.NaN;
  if (Number.isFinite(reservedUntil)) fields.reservedUntil = reservedUntil;
  if (typeof body.slot === 'number') fields.slot = body.slot;
  if (typeof body.fence === 'number') fields.fence = body.fence;
  if (typeof body.requestId === 'string') fields.leaseRequestId = body.requestId;
  if (typeof body.license === 'string' && typeof body.feature === 'string') {
    fields.leasePool = `${body.license}/${body.feature}`;
  }
  return fields;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const cause = (err as Error & { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return cause.code;
    if (cause && typeof cause.message === 'string') return cause.message;
    return err.message;
  }
  return String(err);
}
