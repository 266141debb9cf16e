import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { Clock } from '../time/clock.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import type { ServerPool } from './server-pool.js';

export interface FailoverContext {
  readonly pool: ServerPool;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
}

/**
 * Runs `attempt` on one server after another until one succeeds. A retryable error (a network failure, a
 * timeout, a problem with `retryable: true`) moves on to the next server; any other error is the answer
 * and is thrown at once. Between full rounds it waits a jittered backoff. At most
 * `policy.rounds × servers` attempts, then `ALL_SERVERS_FAILED` with every attempt's error.
 *
 * Only calls that are safe to repeat may go through here: the caller makes them so (a checkout reuses
 * its request id on every attempt).
 */
export async function withFailover<T>(
  ctx: FailoverContext,
  attempt: (server: string) => Promise<T>,
): Promise<T> {
  const failures: LeaseholdClientError[] = [];
  for (let round = 0; round < ctx.policy.rounds; round++) {
    if (round > 0) await ctx.clock.sleep(backoffDelay(round, ctx.policy, ctx.random));
    for (const server of ctx.pool.order()) {
      try {
        const result = await attempt(server);
        ctx.pool.markGood(server);
        return result;
      } catch (err) {
        if (!(err instanceof LeaseholdClientError) || !err.retryable) {
          if (err instanceof LeaseholdClientError && err.status !== undefined) ctx.pool.markGood(server);
          throw err;
        }
        ctx.pool.markBad(server);
        failures.push(err);
      }
    }
  }
  const last = failures.at(-1);
  throw new LeaseholdClientError(
    'ALL_SERVERS_FAILED',
    `no Leasehold server could serve the request (${failures.length} attempts on ${ctx.pool.servers.length} ` +
      `servers)${last ? `; last: ${last.message}` : ''}`,
    { attempts: failures, cause: last },
  );
}
