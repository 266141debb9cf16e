import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LeaseholdError } from '@leasehold/domain';
import Type from 'typebox';
import { verifyFenceStatement } from '../../replication/fence-statement.js';
import type { AppDeps } from '../app-deps.js';
import { problemResponses } from '../schemas.js';

const PromotionAnswer = Type.Object({
  epoch: Type.Integer({ description: 'The fencing epoch this node writes under now' }),
  promotedAt: Type.Integer({ description: 'When (ms since 1970, this node’s clock)' }),
  learningUntil: Type.Integer({
    description:
      'New grants answer PROMOTION_LEARNING until then (one maximum lease TTL); renewals are served',
  }),
  supersedes: Type.String({
    description: 'The old primary, which this node keeps telling it was superseded',
  }),
});

const FenceBody = Type.Object(
  {
    statement: Type.String({
      maxLength: 8192,
      description: 'A fence+jwt signed with one of this cluster’s signing keys: {epoch, primary}',
    }),
  },
  { additionalProperties: false },
);

const EpochAnswer = Type.Object({
  epoch: Type.Integer(),
  fenced: Type.Optional(Type.Object({ epoch: Type.Integer(), primary: Type.String(), at: Type.Integer() })),
});

/**
 * Promotion of a replica and fencing of the primary it replaced (docs/replication.md, "Promotion").
 * `promote` is an admin's act on the replica. `fence` is called by the promoted node on the old primary;
 * it is public because the signed statement is the authority (the cluster's own signing key, which the
 * promoted replica holds as a copy): no header or token a client holds can fence a primary.
 */
export const promotionRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.post(
    '/v1/replication/promote',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['replication'],
        summary: 'Promote this replica to the primary under a new fencing epoch (learning mode first)',
        description:
          'Stops following, persists the epoch above the highest the primary’s feed carried, and serves writes: ' +
          'renewals at once, new grants after one maximum lease TTL. 409 NOT_A_REPLICA on a primary.',
        response: { 200: PromotionAnswer, ...problemResponses },
      },
    },
    async () => {
      if (!deps.promotion) {
        const { epoch } = await deps.store.epochState();
        throw new LeaseholdError('NOT_A_REPLICA', `this node follows no primary (epoch ${epoch})`, { epoch });
      }
      return deps.promotion.promote();
    },
  );

  app.post(
    '/v1/replication/fence',
    {
      config: { scopes: ['public'] },
      schema: {
        tags: ['replication'],
        summary:
          'Told by a promoted replica: this primary was superseded; it refuses lease writes from now on',
        description:
          'The statement must be signed by this cluster’s signing keys and name an epoch above this node’s ' +
          '(409 EPOCH_STALE otherwise). Idempotent.',
        body: FenceBody,
        response: { 200: EpochAnswer, ...problemResponses },
      },
    },
    async (request) => {
      const now = deps.clock.now();
      const claims = await verifyFenceStatement(request.body.statement, deps.keyring.jwks(), now);
      const state = await deps.store.fenceEpoch({ epoch: claims.epoch, primary: claims.primary, now });
      deps.epochs?.set(state);
      request.log.warn(
        { epoch: claims.epoch, primary: claims.primary },
        'fenced: a promoted replica superseded this primary; lease writes are refused from now on',
      );
      return { epoch: state.epoch, ...(state.fenced ? { fenced: state.fenced } : {}) };
    },
  );
};
