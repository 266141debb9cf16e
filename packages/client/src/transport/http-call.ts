import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { readAnswer } from './read-answer.js';

/**
 * The subset of `fetch` the SDK uses. The global `fetch` fits; tests and vendors may pass their own
 * (a proxy-aware one, or a fake).
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
): Promise<unknown> {
  const url = new URL(request.path, server).href;
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  // No content-type without a body: stock Fastify answers an empty JSON body with 400.
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  // The timeout covers the body as well as the headers: a node that stalls mid-answer is as dead.
  const signal = AbortSignal.timeout(options.timeoutMs);

  let status: number;
  let text: string;
  try {
    const { fetch } = options;
    const response = await fetch(url, {
      method: request.method,
      headers,
      body: request.body === undefined ? null : JSON.stringify(request.body),
      signal,
      // A node never redirects; following one could send the bearer token somewhere else.
      redirect: 'manual',
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (signal.aborted) {
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
  }
  return readAnswer(server, status, text);
}

/** The system error code (ECONNREFUSED, ...) undici puts in `cause`, for the message only. */
function errorCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}
