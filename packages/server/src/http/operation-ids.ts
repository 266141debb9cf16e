import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI `operationId` of every route, in one table: client generators name their functions after
 * it, so it must be stable and unique (renaming one breaks generated clients; Redocly's recommended
 * rules refuse duplicates). Kept here rather than in each route's schema so the whole API's names read
 * as one list; a route missing from it is caught by the OpenAPI tests (every operation has one).
 */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'POST /v1/drain': 'drainNode',
  'GET /.well-known/jwks.json': 'getSigningKeys',
  'GET /metrics': 'getMetrics',
  'POST /v1/licenses': 'installLicense',
  'GET /v1/licenses': 'listLicenses',
  'GET /v1/licenses/:id': 'getLicense',
  'POST /v1/licenses/:id/revoke': 'revokeLicense',
  'POST /v1/leases': 'checkoutLease',
  'GET /v1/leases': 'listLeases',
  'GET /v1/leases/:id': 'getLease',
  'POST /v1/leases/:id/renew': 'renewLease',
  'POST /v1/leases/renew': 'renewLeases',
  'DELETE /v1/leases/:id': 'checkinLease',
  'POST /v1/leases/:id/force-release': 'forceReleaseLease',
  'POST /v1/tokens': 'createToken',
  'GET /v1/tokens': 'listTokens',
  'DELETE /v1/tokens/:id': 'revokeToken',
  'GET /v1/audit/events': 'listAuditEvents',
  'GET /v1/audit/export': 'exportAudit',
  'GET /v1/nodes': 'listNodes',
  'GET /v1/cluster': 'getCluster',
  'GET /v1/peer/time': 'getPeerTime',
  'GET /v1/events': 'streamEvents',
  'GET /v1/replication/changes': 'listReplicationChanges',
  'GET /v1/replication/snapshot': 'getReplicationSnapshot',
  'GET /v1/replication/digest': 'getReplicationDigest',
  'POST /v1/replication/promote': 'promoteReplica',
  'POST /v1/replication/fence': 'fencePrimary',
  'GET /': 'getDashboard',
  'GET /dashboard/:file': 'getDashboardAsset',
  'PUT /v1/edge/blocks': 'holdSeatBlock',
  'GET /v1/edge/blocks': 'listSeatBlocks',
  'GET /v1/edge/licenses/:id/file': 'getEdgeLicenseFile',
  'GET /v1/edge/licenses/:id/tokens': 'listEdgeClientTokens',
  'POST /v1/edge/audit': 'uploadEdgeAudit',
  'GET /v1/edge/site': 'getEdgeSite',
  'PUT /v1/edge/site/blocks': 'resizeEdgeSeatBlock',
};

/** Gives each route registered after this its operationId from the table (before @fastify/swagger sees it). */
export function installOperationIds(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (typeof route.method !== 'string') return;
    const id = OPERATION_IDS[`${route.method} ${route.url}`];
    if (id && route.schema?.operationId === undefined) route.schema = { ...route.schema, operationId: id };
  });
}
