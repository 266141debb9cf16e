import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LeaseholdError } from '@leasehold/domain';
import Type from 'typebox';
import type { AppDeps } from '../app-deps.js';
import { problemResponses } from '../schemas.js';

export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  /** Set by POST /v1/drain when no node hook is given (deps.startDrain); a restart undoes it. */
  let drainedHere = false;
  const startedAt = deps.clock.monotonic();

  app.get(
    '/healthz',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            node: Type.String(),
            version: Type.String(),
            uptimeSeconds: Type.Number(),
          }),
        },
      },
    },
    async () => ({
      status: 'ok' as const,
      node: deps.nodeId,
      version: deps.version,
      uptimeSeconds: Math.round(deps.clock.monotonic() - startedAt) / 1000,
    }),
  );

  app.get(
    '/readyz',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['health'],
        summary: 'Readiness: the store answers; 503 STORE_UNAVAILABLE otherwise',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), store: Type.String() }),
          ...problemResponses,
        },
      },
    },
    async () => {
      // Draining (SIGTERM): balancers and SDKs stop sending here while in-flight work still finishes.
      if (drainedHere || deps.draining?.()) throw new LeaseholdError('NODE_SHUTTING_DOWN');
      await deps.store.ping();
      // Honest readiness: a node that has not finished loading its keys from the store cannot serve.
      if (!deps.keyring.loaded) deps.keyring.jwks(); // throws STORE_UNAVAILABLE until the keys are in
      // A node whose clock went back behind its high-water mark cannot sign lease tokens: not ready.
      const behind = deps.clockHighWater?.behindBy(deps.clock.now()) ?? 0;
      if (behind > 0) {
        throw new LeaseholdError(
          'CLOCK_BEHIND',
          `this node's clock reads ${behind} ms behind its high-water mark`,
          {
            behindMs: behind,
          },
        );
      }
      return { status: 'ready' as const, store: deps.store.backend };
    },
  );

  app.post(
    '/v1/drain',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['health'],
        summary:
          'Take this node out of /readyz (balancers and SDKs move away); it keeps serving until stopped',
        description:
          'For a planned stop or upgrade: drain, wait for the balancer to notice (docs/deploy.md), then stop ' +
          'the node. Only a restart makes it ready again.',
        response: {
          202: Type.Object({ status: Type.Literal('draining'), node: Type.String() }),
          ...problemResponses,
        },
      },
    },
    async (_request, reply) => {
      // An app without a node around it (embedded in a test or another server) drains by itself.
      if (deps.startDrain) deps.startDrain();
      else drainedHere = true;
      return reply.code(202).send({ status: 'draining' as const, node: deps.nodeId });
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['keys'],
        summary: 'The cluster public keys that verify lease tokens (RFC 7517 JWK Set)',
        response: {
          200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
          ...problemResponses,
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return deps.keyring.jwks();
    },
  );
};
