import { LeaseholdError, PeriodicTask } from '@leasehold/domain';
import { operationDeadline } from '@leasehold/store';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AppDeps } from '../http/app-deps.js';
import type { RouteScope } from '../http/auth.js';
import { problemResponses } from '../http/schemas.js';
import { type Asset, loadDashboardAssets } from './dashboard-assets.js';
import { LiveSnapshots } from './live-snapshots.js';
import { DASHBOARD_HEADERS } from './security-headers.js';

/** Who may watch the dashboard's live stream (the page itself is public: it holds no data). */
const STREAM_SCOPES: readonly RouteScope[] = ['admin', 'operator'];
/** One snapshot a second: heartbeat ages and usage bars move visibly, the store reads stay cheap. */
const SNAPSHOT_INTERVAL_MS = 1000;
/** Snapshots pushed by changes through this node start at least this far apart (4 a second at most). */
const CHANGE_GAP_MS = 250;
/** Streams per node: each is a socket held open; beyond this the node refuses with a retryable 503. */
const MAX_STREAMS = 64;
/**
 * An open stream re-checks its token this often (and at once after a revocation through this node): a
 * revoked token's dashboard stops receiving data within this bound on every node.
 */
const TOKEN_RECHECK_MS = 10_000;
/** A departed node stays on the dashboard, marked down, for this long. */
const KEEP_DEPARTED_MS = 5 * 60_000;

export interface DashboardOptions {
  readonly snapshotIntervalMs?: number;
  readonly maxStreams?: number;
}

/**
 * The web dashboard: the page at `/`, its files under `/dashboard/`, and the live stream at `/v1/events`
 * (server-sent events; see docs/dashboard.md). Installed on the root instance, like auth, so its hooks
 * see every route's responses.
 */
export async function installDashboard(
  app: FastifyInstance,
  deps: AppDeps,
  options: DashboardOptions = {},
): Promise<LiveSnapshots> {
  const assets = loadDashboardAssets();
  const live = new LiveSnapshots({
    store: deps.store,
    membership: deps.membership,
    nodeId: deps.nodeId,
    nodeTtlMs: deps.nodeTtlMs ?? 3000,
    clock: deps.clock,
    stats: () => app.metrics.summary(),
    intervalMs: options.snapshotIntervalMs ?? SNAPSHOT_INTERVAL_MS,
    minGapMs: CHANGE_GAP_MS,
    maxSubscribers: options.maxStreams ?? MAX_STREAMS,
    keepDepartedMs: KEEP_DEPARTED_MS,
  });
  /** Open streams, each with its token re-check. */
  const streams = new Map<FastifyReply, () => void>();

  // A checkout, check-in or force-release through this node shows on its dashboards at once.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400) return;
    live.changed();
    if (request.method === 'DELETE' && request.routeOptions.url === '/v1/tokens/:id') {
      for (const recheck of streams.values()) recheck();
    }
  });
  // Open streams would hold `close()` (and the node's SIGTERM drain) until their sockets time out.
  app.addHook('preClose', async () => {
    live.close();
    for (const reply of streams.keys()) reply.raw.end();
  });

  const send = (request: FastifyRequest, reply: FastifyReply, file: Asset) => {
    reply.headers(DASHBOARD_HEADERS).header('etag', file.etag).type(file.type);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };

  app.get(
    '/',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['dashboard'],
        summary: 'The dashboard (HTML); sign in with an admin or operator token',
        produces: ['text/html'],
        response: { 200: Type.String(), ...problemResponses },
      },
    },
    async (request, reply) => send(request, reply, assets.shell),
  );

  app.get(
    '/dashboard/:file',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['dashboard'],
        summary: "The dashboard's scripts and stylesheets",
        params: Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) }),
        response: { 200: Type.String(), ...problemResponses },
      },
    },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      const found = assets.files.get(file);
      if (!found) throw new LeaseholdError('ROUTE_NOT_FOUND', `no dashboard file "${file}"`);
      return send(request, reply, found);
    },
  );

  app.get(
    '/v1/events',
    {
      config: { scopes: STREAM_SCOPES },
      schema: {
        tags: ['dashboard'],
        summary: 'Live cluster snapshots for the dashboard (text/event-stream)',
        description:
          'Server-sent events: `hello` once ({node, scope, intervalMs, canForceRelease}), then `snapshot` every second and ' +
          'after every change made through this node: nodes (departed ones kept as down for 5 minutes), ' +
          'store members, seat usage per license and feature, and request stats. `end` and the end of ' +
          'the stream when its token is revoked (checked every 10 s, and at once on a revocation here).',
        produces: ['text/event-stream'],
        response: { 200: Type.String(), ...problemResponses },
      },
    },
    async (request, reply) => {
      const raw = reply.raw;
      let congested = false;
      const write = (event: string, data: unknown) => {
        // A slow reader skips snapshots instead of buffering them: only the latest one matters.
        if (congested || raw.writableEnded || raw.destroyed) return;
        congested = !raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const unsubscribe = live.subscribe((snapshot) => write('snapshot', snapshot));
      reply.hijack();
      const hash = request.principal?.hash ?? '';
      const rechecks = new PeriodicTask({
        clock: deps.clock,
        intervalMs: TOKEN_RECHECK_MS,
        run: async () => {
          const record = await operationDeadline.run(performance.now() + TOKEN_RECHECK_MS / 2, () =>
            app.tokenCache.find(hash),
          );
          if (record && record.revokedAt === undefined) return;
          congested = false;
          write('end', { code: 'UNAUTHENTICATED', detail: 'the token was revoked' });
          raw.end();
        },
        // The store is unreachable: the snapshots say so; the token is re-checked next time.
        onError: () => undefined,
      });
      // Outside the request's context: its store deadline must not carry over into later checks.
      operationDeadline.exit(() => rechecks.start());
      streams.set(reply, () => void rechecks.trigger());
      raw.on('drain', () => {
        congested = false;
      });
      raw.on('close', () => {
        void rechecks.stop();
        unsubscribe();
        streams.delete(reply);
      });
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Proxies (nginx) would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      const scope = request.principal?.scope;
      write('hello', {
        node: deps.nodeId,
        scope,
        intervalMs: options.snapshotIntervalMs ?? SNAPSHOT_INTERVAL_MS,
        // From the route's own declaration, so the page offers exactly what the server will allow.
        canForceRelease: app.routeTable.some(
          (r) =>
            r.method === 'POST' &&
            r.url === '/v1/leases/:id/force-release' &&
            scope !== undefined &&
            r.scopes.includes(scope),
        ),
      });
    },
  );

  return live;
}
