import { type ErrorCode, errorSpec } from './registry.js';

/**
 * The one error class for operational failures. Caller mistakes inside the code (wrong argument types)
 * throw `TypeError`; anything a user or operator can cause throws a `LeaseholdError` with a stable code.
 */
export class LeaseholdError extends Error {
  override readonly name = 'LeaseholdError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** Extra, non-secret facts for the problem document (e.g. `{ seats: 10 }`). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, detail?: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    const spec = errorSpec(code);
    super(detail ?? spec.title, options);
    this.code = code;
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.details = details;
  }
}
