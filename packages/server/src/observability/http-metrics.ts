import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { RouteScope } from '../http/auth.js';
import { problemResponses } from '../http/schemas.js';
import type { NodeMetrics } from './node-metrics.js';

/** The route label of requests no route matched: one value, whatever URL was asked for. */
export const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The problem code of each answered request, read from the problem+json body as it is sent. */
const problemCodes = new WeakMap<FastifyRequest, string>();

function routeLabel(request: FastifyRequest): string {
  // The route pattern (`/v1/leases/:id`), never the raw URL: lease ids in labels would grow without bound.
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

function methodLabel(request: FastifyRequest): string {
  return KNOWN_METHODS.has(request.method) ? request.method : 'OTHER';
}

function problemCode(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
  if (reply.statusCode < 400 || typeof payload !== 'string') return;
  const type = reply.getHeader('content-type');
  if (typeof type !== 'string' || !type.startsWith('application/problem+json')) return;
  try {
    const code = (JSON.parse(payload) as { code?: unknown }).code;
    if (typeof code === 'string') problemCodes.set(request, code);
  } catch {
    // Not ours to fix here; the failure is still counted, with code UNKNOWN.
  }
}

/**
 * Counts every response by route pattern and status. Hooks are on the root instance, so they see every
 * route, the not-found handler and errors thrown by other hooks (auth).
 */
export function installMetrics(app: FastifyInstance, metrics: NodeMetrics): void {
  app.addHook('onSend', async (request, reply, payload) => {
    problemCode(request, reply, payload);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const method = methodLabel(request);
    const route = routeLabel(request);
    metrics.observeRequest(method, route, reply.statusCode, reply.elapsedTime);
    if (reply.statusCode >= 400) {
      metrics.httpFailures.inc({ method, route, code: problemCodes.get(request) ?? 'UNKNOWN' });
    }
  });
}

/**
 * Serves `/metrics`. Registered after the OpenAPI plugin (unlike the hooks above), so that the route
 * is in the spec like every other.
 */
export function metricsRoute(
  app: FastifyInstance,
  metrics: NodeMetrics,
  scopes: readonly RouteScope[] = ['public'],
): void {
  app.get(
    '/metrics',
    {
      config: { scopes },
      schema: {
        tags: ['observability'],
        summary: 'Prometheus metrics',
        description:
          'Text exposition format 0.0.4. Public unless the node runs with metricsAuth "token" ' +
          '(docs/observability.md).',
        response: { 200: Type.String(), ...problemResponses },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.expose();
      return reply.type(contentType).send(body);
    },
  );
}
