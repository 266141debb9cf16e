import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LeaseholdError } from '@leasehold/domain';
import Type from 'typebox';
import { generateApiToken, hashApiToken } from '../../tokens/api-token.js';
import type { AppDeps } from '../app-deps.js';
import { requestActor } from '../audit-actor.js';
import { Id, IdParams, problemResponses, TokenView } from '../schemas.js';
import { tokenView } from '../views.js';

export const tokenRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store, clock } = deps;

  app.post(
    '/v1/tokens',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the secret is in this response only',
        body: Type.Object(
          {
            scope: Type.Union([
              Type.Literal('admin'),
              Type.Literal('operator'),
              Type.Literal('client'),
              Type.Literal('replica'),
            ]),
            license: Type.Optional(Id),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...TokenView.properties, token: Type.String() }),
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const { scope, license, name } = request.body;
      if (scope === 'client') {
        if (license === undefined) {
          throw new LeaseholdError(
            'VALIDATION_FAILED',
            'a client token is bound to one license: give "license"',
          );
        }
        if (!(await store.getLicense(license))) {
          throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${license}" is installed`);
        }
      } else if (license !== undefined) {
        throw new LeaseholdError('VALIDATION_FAILED', `an ${scope} token is not bound to a license`);
      }
      const secret = generateApiToken(scope);
      const record = await store.createToken(
        {
          id: deps.newId(),
          hash: hashApiToken(secret),
          scope,
          licenseId: license,
          name,
          createdAt: clock.now(),
          revokedAt: undefined,
        },
        requestActor(request, deps.nodeId),
      );
      request.log.info({ tokenId: record.id, scope }, 'API token created');
      return reply.code(201).send({ ...tokenView(record), token: secret });
    },
  );

  app.get(
    '/v1/tokens',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['tokens'],
        summary: 'API tokens (never their secrets)',
        response: { 200: Type.Object({ tokens: Type.Array(TokenView) }), ...problemResponses },
      },
    },
    async () => ({ tokens: (await store.listTokens()).map(tokenView) }),
  );

  app.delete(
    '/v1/tokens/:id',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an API token',
        params: IdParams,
        response: { 200: TokenView, ...problemResponses },
      },
    },
    async (request) => {
      const revoked = await store.revokeToken(
        request.params.id,
        clock.now(),
        requestActor(request, deps.nodeId),
      );
      app.tokenCache.forget(revoked.hash);
      return tokenView(revoked);
    },
  );
};
