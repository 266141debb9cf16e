import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { Clock } from '../time/clock.js';
import { readAnswer } from './read-answer.js';

/**
 * The subset of `fetch` the SDK uses. The global `fetch` fits; tests and vendors may pass their own
 * (a proxy-aware one, or `FakeCluster.fetch` from `@leasehold/client/testing`).
 */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** One API call, independent of which node it goes to. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the server's base URL, without a leading slash, e.g. `v1/leases`. */
  readonly path: string;
  readonly body?: unknown;
  /** Bearer token; omitted for public routes. */
  readonly token?: string | undefined;
}

export interface HttpCallOptions {
  readonly fetch: FetchFunction;
  readonly timeoutMs: number;
  /** Runs the timeout, so that a fake clock drives it too. */
  readonly clock: Clock;
  /** Aborts the call: it then rejects with the signal's reason, as `fetch` does. */
  readonly signal?: AbortSignal | undefined;
}

/** A node's successful answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Sends one request to one node and returns its JSON answer, or throws a {@link LeaseholdClientError}:
 * the node's own problem, `NETWORK_ERROR`, `TIMEOUT` or `BAD_RESPONSE`. No retries here; failover is the
 * caller's (`failover.ts`).
 */
export async function httpCall(
  server: string,
  request: HttpRequest,
  options: HttpCallOptions,
): Promise<HttpAnswer> {
  const url = new URL(request.path, server).href;
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  // No content-type without a body: stock Fastify answers an empty JSON body with 400.
  if (request.body !== undefined) headers['content-type'] = 'application/json';

  const { signal: outer } = options;
  outer?.throwIfAborted();
  const controller = new AbortController();
  let timedOut = false;
  // The timeout covers the body as well as the headers: a node that stalls mid-answer is as dead.
  const cancelTimer = options.clock.setTimer(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const forward = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', forward, { once: true });

  let status: number;
  let text: string;
  try {
    const response = await options.fetch(url, {
      method: request.method,
      headers,
      body: request.body === undefined ? null : JSON.stringify(request.body),
      signal: controller.signal,
      // A node never redirects; following one could send the bearer token somewhere else.
      redirect: 'manual',
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (outer?.aborted) throw outer.reason;
    if (timedOut) {
      throw new LeaseholdClientError('TIMEOUT', `${server} did not answer within ${options.timeoutMs} ms`, {
        server,
        cause,
      });
    }
    const reason = errorCode(cause);
    throw new LeaseholdClientError('NETWORK_ERROR', `cannot reach ${server}${reason ? ` (${reason})` : ''}`, {
      server,
      cause,
    });
  } finally {
    cancelTimer();
    outer?.removeEventListener('abort', forward);
  }
  return { status, body: readAnswer(server, status, text) };
}

/** The system error code (ECONNREFUSED, ...) undici puts in `cause`, for the message only. */
function errorCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}
