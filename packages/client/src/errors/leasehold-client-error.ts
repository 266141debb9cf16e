import { CLIENT_ERROR_CODES, type ClientErrorCode, type LeaseholdErrorCode } from './codes.js';

/** Fields of a {@link LeaseholdClientError} beyond its code and message. */
export interface LeaseholdClientErrorInit {
  /** HTTP status of the node's answer; undefined when no answer arrived. */
  readonly status?: number | undefined;
  /** Overrides the default for the code (server errors carry their own). */
  readonly retryable?: boolean | undefined;
  /** The node that gave (or failed to give) the answer. */
  readonly server?: string | undefined;
  /** The RFC 9457 problem document the node sent, with any extra members such as `seats`. */
  readonly problem?: Readonly<Record<string, unknown>> | undefined;
  /** For `ALL_SERVERS_FAILED`: each failed attempt, in order. */
  readonly attempts?: readonly LeaseholdClientError[] | undefined;
  readonly cause?: unknown;
}

/**
 * The one error class of the SDK. Branch on `code` (stable) and `retryable`, never on `message`.
 * Mistakes in calling the SDK (a missing option, a malformed request id) throw `TypeError` instead.
 *
 * @example
 * ```ts
 * try {
 *   await client.checkout('cad');
 * } catch (err) {
 *   if (err instanceof LeaseholdClientError && err.code === 'SEATS_EXHAUSTED') showQueueDialog();
 *   else throw err;
 * }
 * ```
 */
export class LeaseholdClientError extends Error {
  override readonly name = 'LeaseholdClientError';
  /** A server code from the error registry, or one of the SDK's own codes. */
  readonly code: LeaseholdErrorCode;
  /** HTTP status of the node's answer; undefined for network failures, timeouts and token checks. */
  readonly status: number | undefined;
  /** Whether the same call may succeed on another node or later. */
  readonly retryable: boolean;
  readonly server: string | undefined;
  readonly problem: Readonly<Record<string, unknown>> | undefined;
  readonly attempts: readonly LeaseholdClientError[];

  constructor(code: LeaseholdErrorCode, message: string, init: LeaseholdClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
    this.retryable = init.retryable ?? clientCodeRetryable(code);
    this.server = init.server;
    this.problem = init.problem;
    this.attempts = Object.freeze([...(init.attempts ?? [])]);
  }
}

function clientCodeRetryable(code: LeaseholdErrorCode): boolean {
  return Object.hasOwn(CLIENT_ERROR_CODES, code)
    ? CLIENT_ERROR_CODES[code as ClientErrorCode].retryable
    : false;
}

/**
 * Whether `value` is a {@link LeaseholdClientError}; with `code`, whether it carries that code.
 *
 * @example
 * ```ts
 * if (isLeaseholdClientError(err, 'TOKEN_EXPIRED')) await lease.renew();
 * ```
 */
export function isLeaseholdClientError(
  value: unknown,
  code?: LeaseholdErrorCode,
): value is LeaseholdClientError {
  return value instanceof LeaseholdClientError && (code === undefined || value.code === code);
}
