import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Lease, LeaseholdError } from '@leasehold/domain';
import Type, { type Static } from 'typebox';
import type { AppDeps } from '../app-deps.js';
import { licenseScope } from '../auth.js';
import { problemBody } from '../problem.js';
import { Id, LeaseWithToken, Problem, problemResponses } from '../schemas.js';
import { ActingClient, actingClient } from './acting-client.js';

/** Leases one call may renew: a client holding more sends several calls. */
export const MAX_RENEWALS_PER_CALL = 100;

/** How the lease routes sign a grant; shared so that a batch signs exactly as a single renewal does. */
export interface LeaseSigning {
  /** The time the tokens will carry, read before the store write; `covered` before signing (leases.ts). */
  signingTime(): { sentAt: number; covered: Promise<void> };
  withToken(lease: Lease, now: number): Promise<Static<typeof LeaseWithToken>>;
}

const RenewalsBody = Type.Object(
  {
    leases: Type.Array(Type.Object({ id: Id }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: MAX_RENEWALS_PER_CALL,
    }),
  },
  { additionalProperties: false },
);

const RenewalResult = Type.Union([
  Type.Object({ id: Type.String(), lease: LeaseWithToken }),
  Type.Object({
    id: Type.String(),
    problem: Type.Object(Problem.properties, {
      additionalProperties: true,
      description: 'Why this lease alone was not renewed (the same problem its own renewal would answer)',
    }),
  }),
]);

/**
 * `POST /v1/leases/renew`: a client holding several leases renews them in one call (issue 14). The
 * store renews them together — one SQLite transaction, or on etcd one read and one group-committed
 * transaction where they fit — and each lease gets its own answer: a failure of one (released, expired,
 * revoked, unknown) does not fail the others. Every renewed lease gets its own signed token, as from
 * `POST /v1/leases/{id}/renew`: the offline grace relies on each token, and signing is the only per-lease
 * cost beyond the store's. A whole-call failure (no store quorum) is the call's problem, so a client
 * tries another node.
 */
export function leaseRenewalRoutes(signing: LeaseSigning): FastifyPluginAsyncTypebox<{ deps: AppDeps }> {
  return async (app, { deps }) => {
    app.post(
      '/v1/leases/renew',
      {
        config: { scopes: ['admin', 'client'] },
        schema: {
          tags: ['leases'],
          summary: 'Renew several leases in one call (heartbeat of a client holding many)',
          description:
            `Up to ${MAX_RENEWALS_PER_CALL} distinct lease ids. 200 with one result per lease, in the order ` +
            'asked: the renewed lease with its token, or the problem that lease alone met (a failure of ' +
            'one does not fail the others). A problem for the whole call (503 STORE_UNAVAILABLE) means ' +
            'none was renewed by this node: try another. A server without this route answers 404 ' +
            'ROUTE_NOT_FOUND; renew one by one there. Client tokens name the client id the leases were ' +
            'granted to (?client=); a lease of another client gets its own 403 LEASE_NOT_OWNED.',
          querystring: ActingClient,
          body: RenewalsBody,
          response: {
            200: Type.Object({ results: Type.Array(RenewalResult) }),
            ...problemResponses,
          },
        },
      },
      async (request) => {
        const ids = request.body.leases.map((l) => l.id);
        if (new Set(ids).size !== ids.length) {
          throw new LeaseholdError('VALIDATION_FAILED', 'a lease is named twice in one renewal call');
        }
        // Every lease of the call must belong to the client named (issue 11), as for one renewal.
        const clientId = actingClient(request, request.query.client);
        const scope = licenseScope(request);
        const { sentAt, covered } = signing.signingTime();
        const outcomes = await deps.store.renewLeases(
          ids.map((leaseId) => ({ leaseId, licenseId: scope, clientId, now: sentAt })),
        );
        await covered;
        const results = await Promise.all(
          outcomes.map(async (outcome, i) => {
            const id = ids[i] as string;
            return outcome.ok
              ? { id, lease: await signing.withToken(outcome.lease, sentAt) }
              : { id, problem: problemBody(outcome.error, request) };
          }),
        );
        return { results } as { results: Static<typeof RenewalResult>[] };
      },
    );
  };
}
