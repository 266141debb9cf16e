import rateLimit from '@fastify/rate-limit';
import { LeaseholdError } from '@leasehold/domain';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpLimits } from './http-limits.js';

const MINUTE_MS = 60_000;

/**
 * Counts failed authentications per client address (`request.ip`: the socket's, or X-Forwarded-For from a
 * trusted proxy); consulted only for a refused token, so valid tokens are never limited by it.
 */
export interface AuthFailureLimiter {
  /** Throws RATE_LIMITED (with Retry-After) when this address has failed too often in the window. */
  check(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  record(request: FastifyRequest): Promise<void>;
}

/**
 * @fastify/rate-limit with its in-memory store, so every limit is per node (docs/security.md "Limits").
 * Lease routes are limited per client token (key = token id, so it cannot escape by changing address);
 * failed authentications per client address. Over the limit: 429 RATE_LIMITED with Retry-After.
 */
export async function installRateLimits(
  app: FastifyInstance,
  limits: HttpLimits,
): Promise<AuthFailureLimiter> {
  await app.register(rateLimit, { global: false });

  const authFailures = app.createRateLimit({
    max: limits.authFailureLimitPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: (request) => `auth:${request.ip}`,
  });
  const authLimiter: AuthFailureLimiter = {
    async check(request, reply) {
      if (limits.authFailureLimitPerMinute === 0) return;
      const state = await authFailures(request, { increment: false });
      if (!state.isAllowed && state.remaining === 0) {
        throw limited(reply, state.ttlInSeconds, 'too many failed authentications from this address');
      }
    },
    async record(request) {
      if (limits.authFailureLimitPerMinute > 0) await authFailures(request);
    },
  };

  if (limits.leaseRateLimitPerMinute > 0) {
    const leaseCalls = app.createRateLimit({
      max: limits.leaseRateLimitPerMinute,
      timeWindow: MINUTE_MS,
      keyGenerator: (request) => `token:${request.principal?.id ?? request.ip}`,
    });
    // preHandler: after authentication, so the key is the token's id. Client tokens only: they are the
    // ones handed to every installation of a product; admin and operator tokens stay with people.
    app.addHook('preHandler', async (request, reply) => {
      if (request.principal?.scope !== 'client' || !request.routeOptions.url?.startsWith('/v1/leases'))
        return;
      const state = await leaseCalls(request);
      if (!state.isAllowed && state.isExceeded) {
        throw limited(reply, state.ttlInSeconds, 'too many lease calls for this token on this node');
      }
    });
  }
  return authLimiter;
}

function limited(reply: FastifyReply, retryAfterSeconds: number, detail: string): LeaseholdError {
  const seconds = Math.max(1, retryAfterSeconds);
  reply.header('retry-after', String(seconds));
  return new LeaseholdError('RATE_LIMITED', `${detail}; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}
