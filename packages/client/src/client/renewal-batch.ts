import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { Anchor } from '../lease/entitlement.js';
import type { Operation } from '../lease/lease.js';
import type { CallMode, Granted } from '../lease/lease-context.js';
import type { LeaseHandle } from '../lease/lease-handle.js';
import type { ClientCounter } from '../observability/counters.js';
import type { Log } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { Served } from '../transport/failover.js';
import type { HttpAnswer, HttpRequest } from '../transport/http-call.js';
import { badResponse, readAnswer } from '../transport/read-answer.js';

/** The server's cap on leases per many-lease renewal (`POST /v1/leases/renew`). */
const MAX_PER_CALL = 100;
/** After a server answered 404 for the many-lease route (an older version), ask again this much later. */
const RETRY_ROUTE_AFTER_MS = 10 * 60_000;

type Parse<T> = (
  answer: HttpAnswer,
  server: string,
  sent: Anchor,
  signal: AbortSignal | undefined,
) => T | Promise<T>;

export interface RenewalBatchDeps {
  readonly clock: Clock;
  /** This client's id: the leases it renews were granted to it. */
  readonly clientId: string;
  readonly log: Log;
  /** The leases the client holds: those due soon are invited into a renewal call going out. */
  held(): Iterable<LeaseHandle>;
  /** One lease's renewal on its own route (`POST /v1/leases/{id}/renew`), with failover. */
  renewOne(lease: LeaseHandle, leaseId: string, mode: CallMode): Promise<Granted>;
  /** One API call with failover (the client's). */
  call<T>(
    operation: Operation,
    request: Omit<HttpRequest, 'token'>,
    parse: Parse<T>,
    mode: CallMode,
  ): Promise<Served<T>>;
  /** Verifies one lease's grant from a renewal answer (its token, deadlines, claims). */
  checkGrant(
    answer: HttpAnswer,
    server: string,
    sent: Anchor,
    signal: AbortSignal | undefined,
  ): Promise<Granted>;
  /** The node to ask first for these leases: the one that served most of them last (lease-affinity.ts). */
  prefer(leaseIds: readonly string[]): string | undefined;
  count(counter: ClientCounter): void;
}

interface Waiting {
  readonly lease: LeaseHandle;
  readonly leaseId: string;
  readonly mode: CallMode;
  readonly resolve: (granted: Granted) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Renewals of a client holding several leases, in one call (issue 14). When a lease's scheduled
 * renewal goes out, every other lease of the client that is past half of its renewal interval renews
 * with it (`LeaseHandle.renewWithOthers`), so leases fall into step and a client with N leases sends one
 * call per renewal period instead of N. The call is `POST /v1/leases/renew`; each lease's answer is its
 * own (its token checked as a single renewal's would be), and a lease the node could not renew for a
 * retryable reason is asked of the next node, like a single renewal failing over. A lone renewal, and
 * any renewal the application asks for itself, keeps the per-lease route. A server without the route
 * (404, an older version) gets per-lease renewals, and is asked again after a while.
 */
export class RenewalBatcher {
  #waiting: Waiting[] = [];
  #routeMissingUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: RenewalBatchDeps) {}

  renew(lease: LeaseHandle, leaseId: string, mode: CallMode): Promise<Granted> {
    if (!mode.background || this.deps.clock.monotonic() < this.#routeMissingUntil) {
      return this.deps.renewOne(lease, leaseId, mode);
    }
    return new Promise<Granted>((resolve, reject) => {
      this.#waiting.push({ lease, leaseId, mode, resolve, reject });
      // Renewals started in this same turn (the leases invited below) join before the call goes out.
      if (this.#waiting.length === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const asked = new Set(this.#waiting.map((w) => w.lease));
    for (const lease of this.deps.held()) if (!asked.has(lease)) lease.renewWithOthers();
    const waiting = this.#waiting;
    this.#waiting = [];
    const [only] = waiting;
    if (waiting.length === 1 && only) {
      this.deps.renewOne(only.lease, only.leaseId, only.mode).then(only.resolve, only.reject);
      return;
    }
    for (let i = 0; i < waiting.length; i += MAX_PER_CALL)
      void this.#send(waiting.slice(i, i + MAX_PER_CALL));
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    const undecided = new Map(batch.map((w) => [w.leaseId, w]));
    const settle = (w: Waiting, outcome: { granted: Granted } | { error: unknown }) => {
      if (!undecided.delete(w.leaseId)) return;
      if ('granted' in outcome) {
        this.deps.count('renewals');
        w.resolve(outcome.granted);
      } else {
        w.reject(outcome.error);
      }
    };
    // A lease released meanwhile stops waiting at once; the call goes on for the others.
    for (const w of batch) {
      w.mode.signal?.addEventListener('abort', () => settle(w, { error: w.mode.signal?.reason }), {
        once: true,
      });
    }
    // Sent again as it stands at each attempt: a lease decided by one node is not asked of the next.
    const body = { leases: batch.map((w) => ({ id: w.leaseId })) };
    try {
      await this.deps.call(
        'renew',
        {
          method: 'POST',
          // The leases belong to this client: the server renews them only for it (issue 11).
          path: `v1/leases/renew?client=${encodeURIComponent(this.deps.clientId)}`,
          body,
        },
        async (answer, server, sent, signal) => {
          const results = (answer.body as { results?: unknown })?.results;
          if (!Array.isArray(results) || results.length !== body.leases.length) {
            throw badResponse(server, answer.status, 'a renewal answer without one result per lease');
          }
          let retryable: LeaseholdClientError | undefined;
          for (const [i, result] of (
            results as { id?: unknown; lease?: unknown; problem?: unknown }[]
          ).entries()) {
            const w = undecided.get(body.leases[i]?.id ?? '');
            if (!w || result?.id !== w.leaseId) continue;
            const error = result.problem === undefined ? undefined : problemError(server, result.problem);
            if (error?.retryable) {
              retryable = error;
              continue;
            }
            if (error) {
              settle(w, { error });
              continue;
            }
            const granted = await this.deps.checkGrant(
              { status: 200, body: result.lease },
              server,
              sent,
              signal,
            );
            if (granted.grant.id !== w.leaseId) {
              throw new LeaseholdClientError(
                'BAD_RESPONSE',
                `${server} answered a renewal with another lease`,
                {
                  server,
                },
              );
            }
            settle(w, { granted });
          }
          body.leases = [...undecided.keys()].map((id) => ({ id }));
          // What this node could not renew for now is asked of the next one.
          if (body.leases.length > 0)
            throw retryable ?? badResponse(server, answer.status, 'no answer for a lease');
        },
        { background: true, prefer: this.deps.prefer(body.leases.map((l) => l.id)) },
      );
    } catch (err) {
      if (isLeaseholdClientError(err, 'ROUTE_NOT_FOUND')) {
        this.#routeMissingUntil = this.deps.clock.monotonic() + RETRY_ROUTE_AFTER_MS;
        this.deps.log(
          'info',
          { server: err.server },
          'the server renews leases one by one (an older version)',
        );
        for (const w of undecided.values())
          this.deps.renewOne(w.lease, w.leaseId, w.mode).then(w.resolve, w.reject);
        return;
      }
      for (const w of [...undecided.values()]) {
        if (isLeaseholdClientError(err) && err.retryable) this.deps.count('renewalFailures');
        settle(w, { error: err });
      }
    }
  }
}

/** One lease's problem in a many-lease answer, as the error its own renewal would have thrown. */
function problemError(server: string, problem: unknown): LeaseholdClientError {
  const status = (problem as { status?: unknown } | null)?.status;
  try {
    readAnswer(server, typeof status === 'number' && status >= 400 ? status : 500, JSON.stringify(problem));
  } catch (err) {
    if (err instanceof LeaseholdClientError) return err;
  }
  return badResponse(server, undefined, 'a lease result that is neither a lease nor a problem');
}
