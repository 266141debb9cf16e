import { AsyncLocalStorage } from 'node:async_hooks';
import type { IDefaultPolicyContext, IPolicy } from 'cockatiel';
import { cockatiel, etcd3 } from './etcd3-module.js';
import type { BatchTimers } from './txn-batcher.js';

/**
 * Which etcd members this node sends its calls to, and whether a quorum can still answer it.
 *
 * 1. **Routing (issue: the partition leader flake).** A member whose latest call did not answer (a
 *    deadline, or refused) is *out*: calls skip it and go to the members that answer, and it is probed
 *    off the request path — one tiny linearizable read of its own, first after `probeAfterMs`, then at
 *    doubling intervals up to `maxProbeAfterMs` — until it answers, which lets it back in. Why not the
 *    cockatiel breaker we had: its half-open state let one *real* call through every 500 ms, and every
 *    other call that picked the member meanwhile waited for that probe (CircuitBreakerPolicy.execute
 *    awaits the test call) before moving on. So a cut-off member kept costing operations up to a call
 *    deadline each, and a group-committed batch or a read batch that became the probe took all its
 *    operations with it; two such waits in one operation spent its whole 1.3 s budget on a node that
 *    reached a quorum the whole time (CI: a renewal answered 503 7 s into the leader partition). A probe
 *    failing with "connection lost" (not a deadline) even *closed* that breaker, letting every call in
 *    again. Now one failed call takes the member out at once: the retry of the operation whose call just
 *    failed already goes elsewhere, and no operation waits on the member again until it answers a probe.
 * 2. **Quorum (issue 15).** When a majority of members failed their latest call (or probe) within
 *    `recentMs`, no quorum can answer this node in time: an operation that just failed answers 503
 *    STORE_UNAVAILABLE at once instead of retrying to the end of its budget (invariant 8). A minority
 *    failing never triggers it.
 *
 * When *every* member is out, calls are not skipped: they go to the members as before, so a node cut off
 * from all of them still tries (and answers 503 within one call deadline, the majority failing), and one
 * whose members all missed a deadline together (an election, a stalled event loop) is back at the first
 * answer rather than at the next probe.
 */
export interface MemberReachabilityOptions {
  /** How long a failed call still counts towards "majority failing" (a member not heard since may be back). */
  readonly recentMs: number;
  /**
   * A deadline counts against the member only when the call ran at least this long: a call that was given
   * only the last few milliseconds of its operation's budget says nothing about the member.
   */
  readonly judgeAfterMs: number;
  /** When an out member is first probed; each failed probe doubles the wait, up to `maxProbeAfterMs`. */
  readonly probeAfterMs: number;
  readonly maxProbeAfterMs: number;
  /**
   * One call that needs the cluster's quorum (a linearizable read); the policies route it to the member
   * probed. Its outcome is recorded like any call's; what it answers or throws is ignored.
   */
  readonly probe: () => Promise<unknown>;
  /** Monotonic milliseconds (injected for tests). */
  readonly now?: () => number;
  readonly timers?: BatchTimers;
}

interface Outcome {
  readonly answered: boolean;
  readonly at: number;
}

interface MemberRecord {
  readonly host: string;
  latest: Outcome | undefined;
  /** Failed probes since the member went out (the exponent of the next probe's wait). */
  failedProbes: number;
  /** The pending probe's timer, or true while a probe is in flight. */
  probe: unknown;
}

/** Probe timers must not keep a process alive that is done with its store. */
const unrefTimers: BatchTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class MemberReachability {
  readonly #members = new Map<string, MemberRecord>();
  readonly #options: MemberReachabilityOptions;
  readonly #now: () => number;
  readonly #timers: BatchTimers;
  /** Set around a probe: the one member that may take the call. */
  readonly #target = new AsyncLocalStorage<string>();
  /** Set around the gateway's own unary calls: only their outcomes say whether a member answers. */
  readonly #tracked = new AsyncLocalStorage<true>();
  #closed = false;

  constructor(options: MemberReachabilityOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#timers = options.timers ?? unrefTimers;
  }

  /**
   * The fault-handling policy of one member, for etcd3's `faultHandling.host`. etcd3's connection pool
   * tries the members in a random order and moves on to the next when a policy refuses without calling
   * (a BrokenCircuitError), so refusing is how a call skips a member.
   */
  policyFor(host: string): IPolicy<IDefaultPolicyContext> {
    const record: MemberRecord = { host, latest: undefined, failedProbes: 0, probe: undefined };
    this.#members.set(host, record);
    const { noop } = cockatiel();
    return {
      _altReturn: undefined as never,
      onSuccess: noop.onSuccess,
      onFailure: noop.onFailure,
      execute: (fn, signal) => this.#execute(record, () => noop.execute(fn, signal)),
    };
  }

  /**
   * Runs one of the gateway's calls: its outcome is recorded against the member that took it. Other
   * traffic on the same client routes the same way but leaves no outcome: the watch and lease streams
   * etcd3 opens (an opening succeeds at once whether or not the member is there, and etcd3 reports their
   * errors through the same policy: one of the two, traced, closed the old breaker in the middle of a
   * partition) and the membership heartbeat's calls, made on the client itself.
   */
  call<T>(fn: () => Promise<T>): Promise<T> {
    return this.#tracked.run(true, fn);
  }

  /** Records an outcome by hand (tests; calls that bypass the policies). */
  observe(host: string, answered: boolean): void {
    const record = this.#members.get(host);
    if (record) this.#record(record, answered);
  }

  /** True when a majority of members failed their latest call within `recentMs`. */
  majorityFailing(): boolean {
    const now = this.#now();
    let failing = 0;
    for (const m of this.#members.values()) {
      // Only a recent failure counts: an out member is probed, so its failures stay recent while it is
      // out, and a member nobody has called lately (an election left it failed) does not turn away a
      // node that reaches a quorum (CI, partition leader scenario, 5.9 s after the cut).
      if (m.latest && !m.latest.answered && now - m.latest.at <= this.#options.recentMs) failing++;
    }
    return this.#members.size > 0 && failing > this.#members.size / 2;
  }

  /** The members calls currently skip (for tests and diagnostics). */
  skipped(): string[] {
    return [...this.#members.values()].filter((m) => this.#skips(m)).map((m) => m.host);
  }

  /** Stops probing (the gateway closed). */
  close(): void {
    this.#closed = true;
    for (const m of this.#members.values()) {
      if (m.probe !== undefined && m.probe !== true) this.#timers.clear(m.probe);
      m.probe = undefined;
    }
  }

  async #execute<T>(record: MemberRecord, run: () => Promise<T>): Promise<T> {
    const target = this.#target.getStore();
    if (target !== undefined ? target !== record.host : this.#skips(record)) {
      const { BrokenCircuitError } = cockatiel();
      throw new BrokenCircuitError(`etcd member ${record.host} is not taking calls now`);
    }
    if (!this.#tracked.getStore()) return run();
    const started = this.#now();
    let result: T;
    try {
      result = await run();
    } catch (err) {
      const verdict = this.#judge(err, this.#now() - started);
      if (verdict !== undefined) this.#record(record, verdict);
      throw err;
    }
    this.#record(record, true);
    return result;
  }

  /** Out, and some other member is not: its calls go there. */
  #skips(record: MemberRecord): boolean {
    if (record.latest?.answered !== false) return false;
    for (const m of this.#members.values()) if (m.latest?.answered !== false) return true;
    return false;
  }

  /**
   * Did the member answer? Only "did not answer" counts against it: a deadline (when the call had time),
   * or what etcd3 calls recoverable (unavailable, refused, connection lost). An answer that is an error (a
   * bad request, a failed compare) still proves the member is there. Undefined: the call says nothing.
   */
  #judge(err: unknown, ranMs: number): boolean | undefined {
    const { GRPCDeadlineExceededError, isRecoverableError } = etcd3();
    if (err instanceof GRPCDeadlineExceededError) {
      return ranMs >= this.#options.judgeAfterMs ? false : undefined;
    }
    if (err instanceof Error && isRecoverableError(err)) return false;
    return true;
  }

  // The latest outcome, not the latest of each kind compared by time: two outcomes in the same clock
  // tick must still count in the order they happened (the model test found an answer and a failure at
  // one timestamp read as "answered").
  #record(record: MemberRecord, answered: boolean): void {
    record.latest = { answered, at: this.#now() };
    if (answered) {
      record.failedProbes = 0;
      if (record.probe !== undefined && record.probe !== true) this.#timers.clear(record.probe);
      if (record.probe !== true) record.probe = undefined;
    } else if (record.probe === undefined) {
      this.#scheduleProbe(record);
    }
  }

  #scheduleProbe(record: MemberRecord): void {
    if (this.#closed) return;
    const { probeAfterMs, maxProbeAfterMs } = this.#options;
    const wait = Math.min(maxProbeAfterMs, probeAfterMs * 2 ** Math.min(record.failedProbes, 20));
    record.probe = this.#timers.set(() => {
      record.probe = undefined;
      void this.#runProbe(record);
    }, wait);
  }

  async #runProbe(record: MemberRecord): Promise<void> {
    if (this.#closed || record.latest?.answered !== false) return;
    record.probe = true;
    try {
      await this.#target.run(record.host, () => this.call(this.#options.probe));
    } catch {
      // Its outcome is recorded by the policy; nothing else to do with the error.
    } finally {
      record.probe = undefined;
    }
    if (record.latest?.answered === false) {
      record.failedProbes++;
      this.#scheduleProbe(record);
    }
  }
}
