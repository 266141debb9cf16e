import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LeaseholdError } from '@leasehold/domain';
import { operationDeadline } from '@leasehold/store';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installDashboard } from '../dashboard/dashboard-routes.js';
import { LicenseChains } from '../keys/license-chains.js';
import { observeApp } from '../observability/app-observability.js';
import { installMetrics, metricsRoute } from '../observability/http-metrics.js';
import type { NodeMetrics } from '../observability/node-metrics.js';
import { EpochView } from '../replication/epoch-view.js';
import { followerMetrics } from '../replication/follower-metrics.js';
import { FollowerRegistry } from '../replication/follower-registry.js';
import type { AppDeps } from './app-deps.js';
import { installAuth } from './auth.js';
import { DEFAULT_HTTP_LIMITS, serverLimitOptions } from './limits/http-limits.js';
import { installRateLimits } from './limits/rate-limits.js';
import { installOperationIds } from './operation-ids.js';
import { frameworkProblem, installProblemHandlers } from './problem.js';
import { requestIdGenerator } from './request-id.js';
import { auditRoutes } from './routes/audit.js';
import { clusterRoutes } from './routes/cluster.js';
import { edgeRoutes } from './routes/edge.js';
import { healthRoutes } from './routes/health.js';
import { leaseRoutes } from './routes/leases.js';
import { licenseRoutes } from './routes/licenses.js';
import { peerRoutes } from './routes/peer.js';
import { promotionRoutes } from './routes/promotion.js';
import { replicationRoutes } from './routes/replication.js';
import { tokenRoutes } from './routes/tokens.js';
import { Problem } from './schemas.js';
import { TokenCache } from './token-cache.js';

export interface RouteSummary {
  readonly method: string;
  readonly url: string;
  readonly scopes: readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared scopes: for the OpenAPI and authorization-matrix tests. */
    readonly routeTable: readonly RouteSummary[];
    readonly tokenCache: TokenCache;
    /** This app's Prometheus metrics (its own registry) and the dashboard's `summary()`. */
    readonly metrics: NodeMetrics;
    /** The replicas and edges that follow this node (docs/replication.md "Followers"). */
    readonly followers: FollowerRegistry;
  }
}

/** How long one request may wait on its store in total before answering 503 STORE_UNAVAILABLE. */
const REQUEST_STORE_BUDGET_MS = 1500;

/** Secrets never reach the logs (pino redaction). */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.token',
  '*.license',
  '*.privatePem',
  '*.raw',
  '*.kek',
  '*.adminToken',
  '*.upstreamToken',
  // Top-level keys of a log object (the wildcard above starts one level down) and the details an
  // error carries to its problem body (pino serializes them under err.details).
  'token',
  'license',
  'privatePem',
  'raw',
  'kek',
  'adminToken',
  'upstreamToken',
  '*.upstreamToken',
  '*.details.token',
  '*.details.license',
];

/**
 * Builds the node's HTTP API. No sockets are opened here: tests drive it with `app.inject()` and the
 * node binds it to a port.
 */
export async function buildApp(given: AppDeps): Promise<FastifyInstance> {
  // From here on the store is the measured one, for every route and the token lookups alike.
  const { deps, metrics } = observeApp(given);
  const limits = {
    ...DEFAULT_HTTP_LIMITS,
    ...(deps.bodyLimit === undefined ? {} : { bodyLimitBytes: deps.bodyLimit }),
    ...deps.limits,
  };
  const serverOptions = serverLimitOptions(limits);
  const app = Fastify({
    logger: deps.logger ?? false,
    // Body and header sizes, request, header and keep-alive timeouts (docs/security.md "Limits").
    ...serverOptions,
    // Reject unknown body fields instead of silently dropping them: a typo must not pass unnoticed.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
    // Which address is the client's: the socket's, unless it is a trusted proxy (docs/security.md).
    trustProxy: deps.trustProxy && deps.trustProxy.length > 0 ? [...deps.trustProxy] : false,
    // A client's x-request-id is kept only when well-formed (it reaches every log line of the request).
    requestIdHeader: false,
    genReqId: requestIdGenerator(deps.newId),
    // Fastify's own closing answer is not problem+json; ours (below) is, with a retryable code.
    return503OnClosing: false,
    frameworkErrors: frameworkProblem,
    // With TLS the one listener is HTTPS; no plaintext port is ever opened (docs/security.md).
    // (Node's HTTPS server takes the same header size and timeout options as the plain one.)
    ...(deps.https ? { https: { ...serverOptions.http, ...deps.https } } : {}),
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify parses text/plain by default; this API speaks JSON only, so anything else is a 415.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body counts as no body: clients send `Content-Type: application/json` on body-less
  // renewals and check-ins all the time. Everything else goes to Fastify's own parser, which also strips
  // prototype-poisoning keys (`__proto__`, `constructor.prototype`).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, body.toString(), done);
  });
  const routeTable: RouteSummary[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, scopes: route.config?.scopes ?? [] });
    }
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Only the etcd gateway reads the deadline; the embedded store's calls do not wait on a network. On
  // Node 20 the first `enterWith` turns on AsyncLocalStorage's promise hooks for the life of the
  // process, which every promise of every request then pays for (async_hooks frames were ~1.5% of an
  // embedded node's CPU under load, bench/README.md), so a SQLite node never enters one.
  const storeDeadline = deps.store.backend !== 'sqlite';
  app.addHook('onRequest', async () => {
    if (closing) throw new LeaseholdError('NODE_SHUTTING_DOWN');
    // One store deadline for the whole request (token lookup and operation together): a node without
    // quorum answers 503 within 2 s, not 1.5 s per store call it makes (invariant 8).
    if (storeDeadline) operationDeadline.enterWith(performance.now() + REQUEST_STORE_BUDGET_MS);
  });
  app.addSchema(Problem);
  installProblemHandlers(app);
  const tokens = new TokenCache(deps.store, deps.tokenCacheMs ?? 0, () => deps.clock.monotonic());
  app.decorate('tokenCache', tokens);
  installAuth(app, tokens, await installRateLimits(app, limits), deps.peerHosts);
  app.decorate('metrics', metrics);
  installMetrics(app, metrics);
  const followers = new FollowerRegistry({ clock: deps.clock });
  app.decorate('followers', followers);
  followerMetrics(metrics, followers);

  installOperationIds(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Leasehold node API',
        version: deps.version,
        description:
          'Floating-seat leases over verified licenses. Errors are RFC 9457 problem+json with a code.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: every node serves the same API at its own address (the one that served this document).
      servers: [{ url: '/', description: 'this Leasehold node' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'lh_admin_…, lh_operator_… or lh_client_…' },
        },
      },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  // One cache for both: an install on this node drops what the lease routes kept of that license.
  const chained = {
    ...deps,
    epochs: deps.epochs ?? new EpochView(deps.store, deps.clock),
    licenseChains:
      deps.licenseChains ??
      new LicenseChains(deps.store, deps.licenseKeys, deps.clock, (fields, message) =>
        app.log.warn(fields, message),
      ),
  };
  await app.register(healthRoutes, { deps });
  await app.register(licenseRoutes, { deps: chained });
  await app.register(leaseRoutes, { deps: chained });
  await app.register(tokenRoutes, { deps });
  await app.register(auditRoutes, { deps });
  await app.register(clusterRoutes, { deps: chained });
  await app.register(peerRoutes, { deps });
  await app.register(replicationRoutes, { deps: chained });
  await app.register(promotionRoutes, { deps: chained });
  await app.register(edgeRoutes, { deps });
  await installDashboard(app, deps);

  metricsRoute(app, metrics, deps.metricsScopes);
  app.get('/openapi.json', { config: { scopes: ['public'] }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  return app;
}
