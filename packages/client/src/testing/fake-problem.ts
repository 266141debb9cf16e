import type { ServerErrorCode } from '../errors/codes.js';

/**
 * The codes the fake answers with, and their status and `retryable` as the server's registry gives them
 * (`packages/domain/src/errors/registry.ts`). The SDK may not depend on the server packages, so this is a
 * copy: its keys are typed by the SDK's own list of server codes, and
 * `packages/server/test/hand-copies.test.ts` fails when a status or `retryable` here differs from the registry.
 */
export const ERRORS: Readonly<Partial<Record<ServerErrorCode, { status: number; retryable: boolean }>>> = {
  VALIDATION_FAILED: { status: 400, retryable: false },
  ROUTE_NOT_FOUND: { status: 404, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  LICENSE_REVOKED: { status: 409, retryable: false },
  FEATURE_NOT_LICENSED: { status: 404, retryable: false },
  SEATS_EXHAUSTED: { status: 409, retryable: false },
  REQUEST_ID_CONFLICT: { status: 409, retryable: false },
  LEASE_NOT_FOUND: { status: 404, retryable: false },
  LEASE_EXPIRED: { status: 410, retryable: false },
  LEASE_RELEASED: { status: 410, retryable: false },
  LEASE_REVOKED: { status: 410, retryable: false },
  STORE_UNAVAILABLE: { status: 503, retryable: true },
  NODE_SHUTTING_DOWN: { status: 503, retryable: true },
  INTERNAL: { status: 500, retryable: true },
};

/** An error a fake node answers with, as problem+json (see {@link problem}). */
export class Problem extends Error {
  constructor(
    readonly code: ServerErrorCode,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

/** The problem+json answer for `err`, with the registry's status and `retryable`. */
export function problem(err: Problem): { status: number; body: Record<string, unknown> } {
  const spec = ERRORS[err.code] ?? { status: 500, retryable: true };
  return {
    status: spec.status,
    body: {
      type: `urn:leasehold:error:${err.code}`,
      title: err.code,
      status: spec.status,
      code: err.code,
      retryable: spec.retryable,
      detail: `fake node: ${err.code}`,
      ...err.extra,
    },
  };
}
