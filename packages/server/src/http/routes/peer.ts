import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppDeps } from '../app-deps.js';
import { problemResponses } from '../schemas.js';

/**
 * Node-to-node routes. On a node serving TLS they answer only a client certificate from the cluster CA
 * (scope `peer`, http/auth.ts); peers call them with their own node certificate.
 */
export const peerRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/peer/time',
    {
      config: { scopes: ['peer'] },
      schema: {
        tags: ['cluster'],
        summary: "This node's wall-clock time, for its peers' clock-skew probe (mutual TLS)",
        description:
          'No bearer token: on a node serving TLS the caller must present a node certificate from the ' +
          'cluster CA (401 PEER_CERTIFICATE_REQUIRED otherwise).',
        security: [],
        response: {
          200: Type.Object({
            node: Type.String(),
            time: Type.Number({ description: 'Milliseconds since the Unix epoch, by this node' }),
          }),
          ...problemResponses,
        },
      },
    },
    // Read as late as possible: the time the peer gets should be the time of the answer.
    async () => ({ node: deps.nodeId, time: deps.clock.now() }),
  );
};
