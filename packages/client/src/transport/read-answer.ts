import { LeaseholdClientError } from '../errors/leasehold-client-error.js';

/**
 * Turns a node's answer into its JSON body or an error. An error answer is an RFC 9457 problem document
 * whose `code` and `retryable` come from the server's registry; `retryable` alone decides failover.
 *
 * An answer that is not a Leasehold answer at all — a proxy's HTML error page, Fastify's bare 503 while a
 * node shuts down, a body of the wrong shape — is `BAD_RESPONSE` and retryable: whatever sits at that URL
 * is not a working node right now, and every call the SDK makes is safe to repeat on another one
 * (checkouts carry a request id; renew and release are idempotent).
 */
export function readAnswer(server: string, status: number, text: string): unknown {
  const json = parseJson(text);
  if (status >= 200 && status < 300) {
    if (json === undefined) throw badResponse(server, status, 'a body that is not JSON');
    return json;
  }
  if (isProblem(json)) {
    const message = typeof json.detail === 'string' && json.detail !== '' ? json.detail : json.code;
    throw new LeaseholdClientError(json.code, message, {
      status,
      retryable: json.retryable,
      server,
      problem: Object.freeze({ ...json }),
    });
  }
  throw badResponse(server, status, `status ${status} without a Leasehold problem document`);
}

interface ProblemDocument extends Record<string, unknown> {
  readonly code: string;
  readonly retryable: boolean;
  readonly detail?: unknown;
}

function isProblem(json: unknown): json is ProblemDocument {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const { code, retryable } = json as Record<string, unknown>;
  return typeof code === 'string' && code !== '' && typeof retryable === 'boolean';
}

export function badResponse(server: string, status: number | undefined, what: string): LeaseholdClientError {
  return new LeaseholdClientError('BAD_RESPONSE', `${server} answered with ${what}`, { status, server });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
