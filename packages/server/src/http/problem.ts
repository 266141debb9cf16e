import { type ErrorCode, errorSpec, LeaseholdError } from '@leasehold/domain';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every error leaves a node as `application/problem+json` (RFC 9457) with a stable `code` from the
 * registry and `retryable`, which is what clients branch on — never the message.
 */
export function problemBody(err: LeaseholdError, request: FastifyRequest): Record<string, unknown> {
  return {
    type: `urn:leasehold:error:${err.code}`,
    title: errorSpec(err.code).title,
    status: err.status,
    detail: err.message,
    code: err.code,
    retryable: err.retryable,
    instance: request.url,
    requestId: request.id,
    ...err.details,
  };
}

export function sendProblem(reply: FastifyReply, err: LeaseholdError): FastifyReply {
  if (err.code === 'STORE_UNAVAILABLE') reply.header('retry-after', '1');
  // Learning mode after a promotion says how long it has left (docs/replication.md, "Promotion").
  const retryAfter = err.details?.retryAfterSeconds;
  if (err.code === 'PROMOTION_LEARNING' && typeof retryAfter === 'number') {
    reply.header('retry-after', String(retryAfter));
  }
  // A closing node tells keep-alive clients to reconnect (elsewhere) instead of reusing this connection.
  if (err.code === 'NODE_SHUTTING_DOWN') reply.header('connection', 'close');
  return reply.code(err.status).type('application/problem+json').send(problemBody(err, reply.request));
}

// Fastify's own request errors, by their code (fastify/lib/errors.js), mapped to ours.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_REQUEST',
  // Raised by the router before any route runs; they reach us through Fastify's `frameworkErrors`.
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URL_TOO_LONG',
};

export function toLeaseholdError(err: FastifyError | Error): LeaseholdError {
  if (err instanceof LeaseholdError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    return new LeaseholdError('VALIDATION_FAILED', `${fe.validationContext ?? 'request'}: ${fe.message}`, {
      errors: fe.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? v.keyword })),
    });
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new LeaseholdError(mapped, fe.message);
  if (
    err instanceof SyntaxError ||
    (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500)
  ) {
    return new LeaseholdError('MALFORMED_REQUEST', fe.message);
  }
  return new LeaseholdError('INTERNAL', 'internal error; the request id is in the logs', undefined, {
    cause: err,
  });
}

/**
 * Fastify's `frameworkErrors` option: the router answers a bad or over-long URL itself, in plain JSON,
 * unless this is set (found by the API fuzzer: a 200-character id got a 414 without a code).
 */
export function frameworkProblem(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(reply, toLeaseholdError(err));
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const problem = toLeaseholdError(err);
    if (problem.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new LeaseholdError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url}`)),
  );
}
