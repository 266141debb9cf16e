import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  type AuditEntry,
  edgeEventOf,
  FeatureName,
  LeaseholdError,
  verifyUploadedChain,
} from '@leasehold/domain';
import type { SeatBlock } from '@leasehold/store';
import type { FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { FOLLOWER_HEADER, FollowerRegistry } from '../../replication/follower-registry.js';
import type { AppDeps } from '../app-deps.js';
import { requestActor } from '../audit-actor.js';
import { FollowerHeaders } from '../follower-headers.js';
import { Id, problemResponses } from '../schemas.js';

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Head = Type.Object({ seq: Type.Integer({ minimum: 0 }), hash: Hash }, { additionalProperties: false });
/**
 * A detail value is checked in the handler (`assertDetails`), not by a union schema: the app's Ajv coerces
 * types, and in an `anyOf` the string branch would turn a number into text and break the entry's hash.
 */
const Detail = Type.Unknown();
const MAX_DETAIL_LENGTH = 1024;

/** One sealed entry of an edge's audit trail, as its chain hashed it (domain/audit/chain.ts). */
const UploadedEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    prevHash: Hash,
    hash: Hash,
    action: Type.String({ minLength: 1, maxLength: 64 }),
    actor: Type.String({ minLength: 1, maxLength: 256 }),
    subject: Type.String({ minLength: 1, maxLength: 256 }),
    time: Type.Integer({ minimum: 0 }),
    node: Type.String({ minLength: 1, maxLength: 256 }),
    details: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Detail, { maxProperties: 32 })),
  },
  { additionalProperties: false },
);

export const SeatBlockView = Type.Object({
  site: Type.String(),
  license: Type.String(),
  feature: Type.String(),
  seats: Type.Integer({ minimum: 0, description: 'Seats held now (a grow may be granted in part)' }),
  heldForMs: Type.Integer({
    minimum: 0,
    description:
      'How long every seat is held from when the primary took the request: the edge counts it down from when it sent the request',
  }),
  heldUntil: Type.Integer({ description: "The block's deadline on the primary's clock (epoch ms)" }),
});

/** A seat block as the API shows it (`SeatBlockView`), at `now` on this node's clock. */
export function seatBlockView(block: SeatBlock, now: number): Static<typeof SeatBlockView> {
  return {
    site: block.site,
    license: block.licenseId,
    feature: block.feature,
    seats: block.seats,
    heldForMs: Math.max(0, block.heldUntil - now),
    heldUntil: block.heldUntil,
  };
}

/**
 * Who may call the primary's side: the edge's upstream token. A client token reaches its own license; a
 * replica token (it reads every license through the change feed already) and an admin token every license.
 */
const EDGE_SCOPES = ['admin', 'client', 'replica'] as const;

/** Most seats one block may ask for: a block is that many leases, renewed together. */
const MAX_BLOCK_SEATS = 10_000;
/** Longest block hold: a day (a cut longer than this stops the edge anyway, as designed). */
const MAX_HOLD_MS = 86_400_000;

/**
 * The primary's side of edge sites (docs/replication.md): seat blocks, the signed license file and the
 * client tokens an edge needs to serve like its primary, and the edge's audit upload. A client token
 * reaches only its own license; a replica or admin token every license. These reads are the stand-in for the
 * replication change feed (`edge/edge-source.ts` is the one place that swaps).
 */
export const edgeRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store, clock } = deps;
  /** A license or token read names its edge by header only (older edges send none: not recorded). */
  const edgeSync = (request: FastifyRequest) => {
    const site = FollowerRegistry.idOf(request.headers[FOLLOWER_HEADER]);
    if (site !== undefined) app.followers.edgeContact(site, request.ip, false);
  };

  app.put(
    '/v1/edge/blocks',
    {
      config: { scopes: EDGE_SCOPES },
      schema: {
        tags: ['edge'],
        summary: "Hold, renew, grow or shrink an edge site's seat block (a grow may be granted in part)",
        body: Type.Object(
          {
            site: Id,
            license: Id,
            feature: FeatureName,
            seats: Type.Integer({ minimum: 0, maximum: MAX_BLOCK_SEATS }),
            holdMs: Type.Integer({ minimum: 1000, maximum: MAX_HOLD_MS }),
            requestId: Id,
          },
          { additionalProperties: false },
        ),
        response: { 200: SeatBlockView, ...problemResponses },
      },
    },
    async (request) => {
      const { body } = request;
      assertLicenseScope(request, body.license);
      app.followers.edgeContact(body.site, request.ip, false);
      // The hold starts when the request reached the primary, after the edge sent it: the edge's
      // countdown (from its send) always ends first.
      const now = clock.now();
      const block = await store.holdSeatBlock({
        site: body.site,
        licenseId: body.license,
        feature: body.feature,
        seats: body.seats,
        holdMs: body.holdMs,
        requestId: body.requestId,
        now,
        newLeaseId: deps.newId,
        audit: requestActor(request, deps.nodeId),
      });
      app.followers.edgeContact(body.site, request.ip, true);
      request.log.info(
        {
          site: block.site,
          license: block.licenseId,
          feature: block.feature,
          seats: block.seats,
          asked: body.seats,
        },
        'seat block held',
      );
      return seatBlockView(block, now);
    },
  );

  app.get(
    '/v1/edge/blocks',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['edge'],
        summary: 'Seat blocks held by edge sites now',
        response: { 200: Type.Object({ blocks: Type.Array(SeatBlockView) }), ...problemResponses },
      },
    },
    async () => {
      const now = clock.now();
      const blocks = await store.listSeatBlocks(now);
      return { blocks: blocks.map((b) => seatBlockView(b, now)) };
    },
  );

  app.get(
    '/v1/edge/licenses/:id/file',
    {
      config: { scopes: EDGE_SCOPES },
      schema: {
        tags: ['edge'],
        summary: 'The vendor-signed license file, for an edge to verify and install itself',
        params: Type.Object({ id: Id }, { additionalProperties: false }),
        headers: FollowerHeaders,
        response: {
          200: Type.Object({ license: Type.String(), version: Type.Integer(), revoked: Type.Boolean() }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      assertLicenseScope(request, request.params.id);
      edgeSync(request);
      const license = await store.getLicense(request.params.id);
      if (!license)
        throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${request.params.id}" is installed`);
      return { license: license.raw, version: license.version, revoked: license.revokedAt !== undefined };
    },
  );

  app.get(
    '/v1/edge/licenses/:id/tokens',
    {
      config: { scopes: EDGE_SCOPES },
      schema: {
        tags: ['edge'],
        summary: "Client tokens of a license (hashes only), so an edge accepts its primary's clients",
        params: Type.Object({ id: Id }, { additionalProperties: false }),
        headers: FollowerHeaders,
        response: {
          200: Type.Object({
            tokens: Type.Array(
              Type.Object({
                id: Type.String(),
                hash: Hash,
                createdAt: Type.Integer(),
                revokedAt: Type.Optional(Type.Integer()),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      assertLicenseScope(request, request.params.id);
      edgeSync(request);
      const tokens = (await store.listTokens()).filter(
        (t) => t.scope === 'client' && t.licenseId === request.params.id,
      );
      return {
        tokens: tokens.map((t) => ({
          id: t.id,
          hash: t.hash,
          createdAt: t.createdAt,
          ...(t.revokedAt === undefined ? {} : { revokedAt: t.revokedAt }),
        })),
      };
    },
  );

  // This node's own side when it is an edge: its blocks as it counts them, and a grow or shrink.
  const SiteBlock = Type.Object({
    license: Type.String(),
    feature: Type.String(),
    wanted: Type.Integer(),
    seats: Type.Integer({ description: 'Seats this edge may lend now' }),
    remainingMs: Type.Integer({ description: "What the block has left on this edge's clock (0: ran out)" }),
    primaryHeldUntil: Type.Optional(Type.Integer()),
    lastError: Type.Optional(Type.String()),
  });
  const SiteView = Type.Object({
    edge: Type.Boolean(),
    primary: Type.Optional(Type.String()),
    site: Type.Optional(Type.String()),
    blockTtlMs: Type.Optional(Type.Integer()),
    auditUploadedSeq: Type.Optional(Type.Integer()),
    copiesFrom: Type.Optional(
      Type.Union([Type.Literal('feed'), Type.Literal('reads')], {
        description: 'How it copies licenses and tokens: the change feed, or two polled reads (client token)',
      }),
    ),
    blocks: Type.Array(SiteBlock),
  });
  const siteView = () => {
    const status = deps.edgeSite?.status();
    if (!status) return { edge: false, blocks: [] };
    return {
      edge: true,
      primary: status.primary,
      site: status.site,
      blockTtlMs: status.blockTtlMs,
      auditUploadedSeq: status.auditUploadedSeq,
      copiesFrom: status.copiesFrom,
      blocks: status.blocks.map((b) => ({
        license: b.licenseId,
        feature: b.feature,
        wanted: b.wanted,
        seats: b.seats,
        remainingMs: Math.round(b.remainingMs),
        ...(b.primaryHeldUntil === undefined ? {} : { primaryHeldUntil: b.primaryHeldUntil }),
        ...(b.lastError === undefined ? {} : { lastError: b.lastError }),
      })),
    };
  };

  app.get(
    '/v1/edge/site',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['edge'],
        summary: "This node's seat blocks when it is an edge site, as it counts them",
        response: { 200: SiteView, ...problemResponses },
      },
    },
    async () => siteView(),
  );

  app.put(
    '/v1/edge/site/blocks',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['edge'],
        summary: "Grow or shrink one of this edge's blocks; the primary may grant a grow in part",
        body: Type.Object(
          {
            license: Id,
            feature: FeatureName,
            seats: Type.Integer({ minimum: 0, maximum: MAX_BLOCK_SEATS }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SiteView, ...problemResponses },
      },
    },
    async (request) => {
      const { license, feature, seats } = request.body;
      const site = deps.edgeSite;
      const known = site?.status().blocks.some((b) => b.licenseId === license && b.feature === feature);
      if (!site || !known) {
        throw new LeaseholdError(
          'FEATURE_NOT_LICENSED',
          `this node holds no seat block ${license}:${feature}`,
        );
      }
      site.keeper.setWanted(license, feature, seats);
      return siteView();
    },
  );

  app.post(
    '/v1/edge/audit',
    {
      config: { scopes: EDGE_SCOPES },
      schema: {
        tags: ['edge'],
        summary: "Upload a run of an edge's sealed audit entries; the primary verifies the hash chain",
        body: Type.Object(
          { site: Id, previous: Head, entries: Type.Array(UploadedEntry, { minItems: 1, maxItems: 500 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ accepted: Type.Integer(), head: Head }), ...problemResponses },
      },
    },
    async (request) => {
      const { site, previous, entries } = request.body;
      app.followers.edgeContact(site, request.ip, false);
      for (const entry of entries) assertDetails(entry.details);
      // The whole run verifies before any of it is kept: a broken chain leaves nothing behind.
      const head = verifyUploadedChain(previous, entries as unknown as AuditEntry[]);
      const uploadedBy = requestActor(request, deps.nodeId).actor;
      for (const entry of entries as unknown as AuditEntry[]) {
        const event = edgeEventOf(site, entry);
        await store.recordAudit({ ...event, details: { ...event.details, uploadedBy } });
      }
      request.log.info(
        { site, from: previous.seq + 1, to: head.seq },
        'edge audit entries verified and recorded',
      );
      return { accepted: entries.length, head };
    },
  );
};

/** Audit details are flat: strings (bounded), numbers, booleans and null (domain/audit/audit-event.ts). */
function assertDetails(details: Readonly<Record<string, unknown>> | undefined): void {
  for (const [key, value] of Object.entries(details ?? {})) {
    const flat =
      value === null ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && value.length <= MAX_DETAIL_LENGTH);
    if (!flat) {
      throw new LeaseholdError(
        'VALIDATION_FAILED',
        `details.${key} must be a string, number, boolean or null`,
      );
    }
  }
}

/** A client token is bound to one license: it reaches that license's block, file and tokens only. */
function assertLicenseScope(request: FastifyRequest, licenseId: string): void {
  const principal = request.principal;
  if (principal?.scope === 'client' && principal.licenseId !== licenseId) {
    throw new LeaseholdError(
      'FORBIDDEN',
      `this client token is bound to another license than "${licenseId}"`,
    );
  }
}
