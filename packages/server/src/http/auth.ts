import { LeaseholdError } from '@leasehold/domain';
import type { ApiTokenRecord } from '@leasehold/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashApiToken } from '../tokens/api-token.js';
import type { TokenCache } from './token-cache.js';

/**
 * Who may call a route. Every route declares its scopes in `config.scopes`; registering a route without
 * them fails at start-up, so no route is open by accident. `operator` and finer roles come with the
 * security issue and slot in here.
 */
export type RouteScope = 'public' | 'admin' | 'client';

declare module 'fastify' {
  interface FastifyContextConfig {
    scopes?: readonly RouteScope[];
  }
  interface FastifyRequest {
    principal: ApiTokenRecord | undefined;
  }
}

const MAX_TOKEN_LENGTH = 512;

export function installAuth(app: FastifyInstance, tokens: TokenCache): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    if (!route.config?.scopes || route.config.scopes.length === 0) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no scopes`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const scopes = request.routeOptions.config.scopes;
    // The not-found handler has no scopes: it answers ROUTE_NOT_FOUND to anyone.
    if (!scopes || scopes.includes('public')) return;
    const token = bearerToken(request);
    const record = await tokens.find(hashApiToken(token));
    if (!record || record.revokedAt !== undefined) {
      throw new LeaseholdError('UNAUTHENTICATED', 'the bearer token is unknown or revoked');
    }
    if (!scopes.includes(record.scope)) {
      throw new LeaseholdError('FORBIDDEN', `a ${record.scope} token may not call this route`, {
        allowedScopes: scopes,
      });
    }
    request.principal = record;
  });
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  // RFC 6750 §2.1: "Bearer" followed by the token; the scheme is case-insensitive (RFC 9110 §11.1).
  const match = header ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1] || match[1].length > MAX_TOKEN_LENGTH) {
    throw new LeaseholdError('UNAUTHENTICATED', 'send "Authorization: Bearer <token>"');
  }
  return match[1];
}

/** The license a client token is bound to (undefined for admin tokens, which see every license). */
export function licenseScope(request: FastifyRequest): string | undefined {
  const p = request.principal;
  if (p?.scope !== 'client') return undefined;
  if (p.licenseId === undefined)
    throw new LeaseholdError('FORBIDDEN', 'this client token is bound to no license');
  return p.licenseId;
}
