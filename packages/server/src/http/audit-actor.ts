import type { AuditContext } from '@leasehold/domain';
import type { FastifyRequest } from 'fastify';

/**
 * Who a request acts as, for the audit trail: the token's scope and id (never the token), or
 * `anonymous` on a public route. The node is the one that served the request.
 */
export function requestActor(request: FastifyRequest, node: string): AuditContext {
  const p = request.principal;
  return { actor: p ? `${p.scope}:${p.id}` : 'anonymous', node };
}
