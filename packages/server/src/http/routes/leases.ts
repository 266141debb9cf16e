import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { accessibleLease, type Lease, LeaseholdError, leaseState, signLeaseToken } from '@leasehold/domain';
import { DEFAULT_LIST_LIMIT, leaseCursor } from '@leasehold/store';
import Type from 'typebox';
import { LicenseChains } from '../../keys/license-chains.js';
import { EpochView } from '../../replication/epoch-view.js';
import type { AppDeps } from '../app-deps.js';
import { requestActor } from '../audit-actor.js';
import { licenseScope } from '../auth.js';
import { CheckoutBody, Id, IdParams, LeaseView, LeaseWithToken, problemResponses } from '../schemas.js';
import { leaseView } from '../views.js';
import { ActingClient, actingClient } from './acting-client.js';
import { leaseRenewalRoutes } from './lease-renewals.js';

const ENDED_CODE = {
  expired: 'LEASE_EXPIRED',
  released: 'LEASE_RELEASED',
  revoked: 'LEASE_REVOKED',
} as const;

export const leaseRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store, clock, keyring } = deps;

  // The time a lease token will be signed with; CLOCK_BEHIND (before any store write) when this node's
  // clock reads earlier than the latest time it signed with (time/clock-high-water.ts). `covered` says the
  // mark file covers it: awaited only before signing, so the disk write overlaps the store call. (Awaited
  // first, a slow fsync made a node cut off from etcd answer 503 after 2.24 s instead of within 2 s.)
  //
  // Also before any store write: a node that cannot sign yet writes no lease. Its start-up reads the
  // cluster's clock margin before it loads its keys (node/cluster-clock-margin.ts), so no deadline is
  // written by a node whose margin the cluster has not recorded; and a grant it could not answer would
  // otherwise be committed, then replayed to the client's retry by another node.
  const signingTime = (): { sentAt: number; covered: Promise<void> } => {
    if (!keyring.loaded) {
      throw new LeaseholdError('STORE_UNAVAILABLE', 'this node has not loaded the cluster signing key yet');
    }
    const sentAt = clock.now();
    const covered = deps.clockHighWater?.reserve(sentAt) ?? Promise.resolve();
    // Handled here too: when the store call fails first, nobody awaits it.
    covered.catch(() => undefined);
    return { sentAt, covered };
  };

  const chains = deps.licenseChains ?? new LicenseChains(store, deps.licenseKeys, clock);
  // The chain from the vendor to this token rides in every grant (issue 11), rather than being fetched
  // and cached by the SDK from a route of its own: one answer holds all a client needs to decide, a
  // renewal after an upgrade brings the new license by itself, and there is no second call to fail over,
  // cache or keep in step. The cost is about 1.1-1.4 KB per checkout and renewal answer (docs/security.md).
  // The epoch a grant is signed at (docs/replication.md, "Promotion"): SDKs refuse lower ones once they
  // have seen a higher one. Its answer field is for people and tools; the SDK trusts the signed claim.
  const epochs = deps.epochs ?? new EpochView(store, clock);
  const withToken = async (lease: Lease, now: number) => {
    const signer = keyring.signer;
    const [license, { epoch }] = await Promise.all([
      chains.get(lease.licenseId, lease.feature, now),
      epochs.current(),
    ]);
    return {
      ...leaseView(lease, now),
      epoch,
      token: await signLeaseToken(lease, now, signer, license, epoch),
      chain: {
        ...(license ? { license: license.jws } : {}),
        keyCertificate: keyring.certificate(signer.kid),
      },
    };
  };

  // Many renewals in one call sign exactly as the single renewal below does.
  await app.register(leaseRenewalRoutes({ signingTime, withToken }), { deps });

  app.post(
    '/v1/leases',
    {
      config: { scopes: ['admin', 'client'] },
      schema: {
        tags: ['leases'],
        summary: 'Check a floating seat out (idempotent by client id + requestId)',
        description:
          '201 with a new lease, or 200 with the lease an earlier call with the same requestId granted. ' +
          '409 SEATS_EXHAUSTED when every seat is taken.',
        body: CheckoutBody,
        response: { 200: LeaseWithToken, 201: LeaseWithToken, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const scope = licenseScope(request);
      if (scope !== undefined && body.license !== undefined && body.license !== scope) {
        throw new LeaseholdError('FORBIDDEN', `this token is bound to license "${scope}"`);
      }
      // The lease window starts when the write is sent, not when its answer arrives (DESIGN.md).
      const { sentAt, covered } = signingTime();
      const { lease, replayed } = await store.acquireSeat({
        leaseId: deps.newId(),
        requestId: body.requestId,
        feature: body.feature,
        licenseId: body.license ?? scope,
        client: body.client,
        now: sentAt,
        audit: requestActor(request, deps.nodeId),
      });
      const state = leaseState(lease, clock.now());
      if (state !== 'active') throw new LeaseholdError(ENDED_CODE[state]);
      if (!replayed) {
        request.log.info(
          { lease: lease.id, feature: lease.feature, license: lease.licenseId },
          'seat checked out',
        );
      }
      await covered;
      return reply.code(replayed ? 200 : 201).send(await withToken(lease, sentAt));
    },
  );

  app.post(
    '/v1/leases/:id/renew',
    {
      config: { scopes: ['admin', 'client'] },
      schema: {
        tags: ['leases'],
        summary: 'Renew a lease (heartbeat); any node may renew any lease',
        description:
          'Client tokens name the client id the lease was granted to (?client=); 403 LEASE_NOT_OWNED otherwise.',
        params: IdParams,
        querystring: ActingClient,
        response: { 200: LeaseWithToken, ...problemResponses },
      },
    },
    async (request) => {
      const clientId = actingClient(request, request.query.client);
      const { sentAt, covered } = signingTime();
      const lease = await store.renewLease({
        leaseId: request.params.id,
        licenseId: licenseScope(request),
        clientId,
        now: sentAt,
      });
      await covered;
      return withToken(lease, sentAt);
    },
  );

  app.delete(
    '/v1/leases/:id',
    {
      config: { scopes: ['admin', 'client'] },
      schema: {
        tags: ['leases'],
        summary: 'Check a seat in (idempotent)',
        description:
          'Client tokens name the client id the lease was granted to (?client=); 403 LEASE_NOT_OWNED otherwise.',
        params: IdParams,
        querystring: ActingClient,
        response: { 200: LeaseView, ...problemResponses },
      },
    },
    async (request) => {
      const clientId = actingClient(request, request.query.client);
      const now = clock.now();
      const lease = await store.releaseSeat({
        leaseId: request.params.id,
        licenseId: licenseScope(request),
        clientId,
        now,
        audit: requestActor(request, deps.nodeId),
      });
      request.log.info({ lease: lease.id, state: lease.endReason }, 'seat checked in');
      return leaseView(lease, now);
    },
  );

  app.get(
    '/v1/leases/:id',
    {
      config: { scopes: ['admin', 'operator', 'client'] },
      schema: {
        tags: ['leases'],
        summary: 'One lease',
        description:
          "Client tokens see their own client's leases only (?client=): another client's request id is not theirs to learn.",
        params: IdParams,
        querystring: ActingClient,
        response: { 200: LeaseView, ...problemResponses },
      },
    },
    async (request) => {
      const clientId = actingClient(request, request.query.client);
      const lease = accessibleLease(await store.getLease(request.params.id), {
        leaseId: request.params.id,
        licenseId: licenseScope(request),
        clientId,
      });
      return leaseView(lease, clock.now());
    },
  );

  app.get(
    '/v1/leases',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['leases'],
        summary:
          'Leases holding seats now, by deadline (or every stored one by id, with all=true), a page at a time',
        description:
          'A page of at most `limit` leases. When the page is full, `next` is the cursor of its last lease: ' +
          'pass it as `after` (with the same filters) for the next page. Live leases run in deadline ' +
          'order, so one renewed between two pages may show again later, but none is skipped.',
        querystring: Type.Object(
          {
            license: Type.Optional(Id),
            feature: Type.Optional(Type.String({ maxLength: 128 })),
            all: Type.Optional(Type.Boolean({ default: false })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: DEFAULT_LIST_LIMIT })),
            after: Type.Optional(
              Type.String({ minLength: 1, maxLength: 512, description: 'The `next` of the previous page' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            leases: Type.Array(LeaseView),
            next: Type.Optional(
              Type.String({ description: 'Cursor for the next page; absent on the last page' }),
            ),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const now = clock.now();
      const { license, feature, all, after } = request.query;
      const limit = request.query.limit ?? DEFAULT_LIST_LIMIT;
      const leases = await store.listLeases({
        now,
        licenseId: license,
        feature,
        includeEnded: all,
        limit,
        after,
      });
      const last = leases.at(-1);
      return {
        leases: leases.map((l) => leaseView(l, now)),
        ...(last && leases.length >= limit ? { next: leaseCursor(last, all === true) } : {}),
      };
    },
  );

  app.post(
    '/v1/leases/:id/force-release',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['leases'],
        summary: 'Operator force-release',
        description:
          'Stops renewals at once. The seat frees when the reservation the last token relied on runs out, ' +
          'so two clients never hold valid tokens for one seat; immediate=true frees it now instead.',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            { immediate: Type.Optional(Type.Boolean({ default: false })) },
            { additionalProperties: false },
          ),
        ),
        response: { 200: LeaseView, ...problemResponses },
      },
    },
    async (request) => {
      const now = clock.now();
      const immediate = request.body?.immediate ?? false;
      const lease = await store.forceRelease({
        leaseId: request.params.id,
        immediate,
        now,
        audit: requestActor(request, deps.nodeId),
      });
      request.log.warn({ lease: lease.id, immediate }, 'lease force-released');
      return leaseView(lease, now);
    },
  );
};
