import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { type Clock, sleep } from '../time/clock.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import type { Balancer } from './balancer.js';

/** One attempt on one node, as reported to `onAttempt`. */
export interface AttemptReport {
  readonly server: string;
  readonly durationMs: number;
  readonly error: LeaseholdClientError | undefined;
}

/** A call that moved on from a failed node and then succeeded on another. */
export interface FailoverReport {
  readonly from: string;
  readonly to: string;
  readonly error: LeaseholdClientError;
}

export interface FailoverContext {
  readonly balancer: Balancer;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  /** Stops the call between attempts and aborts the attempt in flight. */
  readonly signal?: AbortSignal | undefined;
  /** Backoff waits do not keep the process alive (renewals, discovery). */
  readonly background?: boolean;
  readonly onAttempt?: (report: AttemptReport) => void;
  readonly onFailover?: (report: FailoverReport) => void;
  /** The node to try first when it is healthy (Balancer.pick): a lease's renewals go back to its node. */
  readonly prefer?: string | undefined;
}

export interface Served<T> {
  readonly result: T;
  /** The node that gave the result. */
  readonly server: string;
}

/**
 * Runs `attempt` on one node after another, as the balancer picks them, until one succeeds. A retryable
 * error (a network failure, a timeout, a problem with `retryable: true`) moves on to the next node; any
 * other error is the answer and is thrown at once (STYLE.md: failover is decided by `retryable`, never by
 * message text). Each round tries every node at most once; between rounds it waits a jittered backoff. At
 * most `policy.rounds × nodes` attempts, then `ALL_SERVERS_FAILED` with every attempt's error.
 *
 * Only calls that are safe to repeat may go through here: the caller makes them so (a checkout reuses its
 * request id on every attempt; renew and release are idempotent).
 */
export async function withFailover<T>(
  ctx: FailoverContext,
  attempt: (server: string, signal: AbortSignal | undefined) => Promise<T>,
): Promise<Served<T>> {
  const { balancer, clock, signal } = ctx;
  const failures: LeaseholdClientError[] = [];
  for (let round = 0; round < ctx.policy.rounds; round++) {
    if (round > 0) {
      await sleep(clock, backoffDelay(round, ctx.policy, ctx.random), {
        signal,
        background: ctx.background ?? false,
      });
    }
    signal?.throwIfAborted();
    const tried = new Set<string>();
    for (
      let server = balancer.pick(tried, ctx.prefer);
      server !== undefined;
      server = balancer.pick(tried, ctx.prefer)
    ) {
      tried.add(server);
      const end = balancer.begin(server);
      const started = clock.monotonic();
      try {
        const result = await attempt(server, signal);
        end('success');
        ctx.onAttempt?.({ server, durationMs: clock.monotonic() - started, error: undefined });
        const last = failures.at(-1);
        if (last) ctx.onFailover?.({ from: last.server ?? '', to: server, error: last });
        return { result, server };
      } catch (err) {
        if (signal?.aborted) {
          end('abandoned');
          throw signal.reason;
        }
        if (!(err instanceof LeaseholdClientError)) {
          end('abandoned');
          throw err;
        }
        end(err.retryable ? 'failure' : err.status !== undefined ? 'answered' : 'abandoned');
        ctx.onAttempt?.({ server, durationMs: clock.monotonic() - started, error: err });
        if (!err.retryable) throw err;
        failures.push(err);
      }
    }
  }
  const last = failures.at(-1);
  throw new LeaseholdClientError(
    'ALL_SERVERS_FAILED',
    `no Leasehold server could serve the request (${failures.length} attempts on ` +
      `${balancer.servers.length} servers)${last ? `; last: ${last.message}` : ''}`,
    { attempts: failures, cause: last },
  );
}
