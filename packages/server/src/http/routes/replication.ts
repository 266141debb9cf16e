import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LeaseholdError, parseDuration } from '@leasehold/domain';
import { operationDeadline, stateDigest } from '@leasehold/store';
import Type from 'typebox';
import { FOLLOWER_HEADER, FollowerRegistry } from '../../replication/follower-registry.js';
import type { AppDeps } from '../app-deps.js';
import { FollowerHeaders } from '../follower-headers.js';
import { problemResponses } from '../schemas.js';

/** The longest long-poll a feed request may ask for (below Fastify's and proxies' idle timeouts). */
export const MAX_FEED_WAIT_MS = 60_000;
const DEFAULT_FEED_WAIT_MS = 25_000;

const FeedQuery = Type.Object(
  {
    after: Type.Integer({ minimum: -1, description: 'Send changes with a revision above this one' }),
    limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
    wait: Type.Optional(
      Type.String({
        pattern: '^\\d{1,6}(ms|s)?$',
        description: 'Long-poll: with nothing to send, wait this long (e.g. 25s, 500ms; at most 60s)',
      }),
    ),
  },
  { additionalProperties: false },
);

const RecordSchema = Type.Object(
  { kind: Type.String(), id: Type.String(), value: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: false },
);

const ChangeSchema = Type.Union([
  Type.Object(
    { rev: Type.Integer(), op: Type.Literal('put'), record: RecordSchema },
    { additionalProperties: false },
  ),
  Type.Object(
    { rev: Type.Integer(), op: Type.Literal('delete'), kind: Type.String(), id: Type.String() },
    { additionalProperties: false },
  ),
]);

const PageSchema = Type.Object({
  changes: Type.Array(ChangeSchema),
  through: Type.Integer({ description: 'Every change up to this revision was sent: ask after it next' }),
  head: Type.Integer({ description: "The primary's newest revision" }),
  oldest: Type.Integer({ description: 'The lowest `after` still answered; below it, reload the snapshot' }),
  epoch: Type.Optional(
    Type.Integer({ description: "The primary's fencing epoch (a promotion goes above it)" }),
  ),
});

/**
 * The change feed over HTTP (docs/replication.md): `replica` tokens (and admins) read it. Pages are JSON,
 * or NDJSON (`Accept: application/x-ndjson`: one change per line, then a line with `through`, `head` and
 * `oldest`) for readers that stream large catch-ups. Below the retained history: 410
 * REPLICATION_HISTORY_COMPACTED, and the reader reloads `/v1/replication/snapshot`.
 */
export const replicationRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store } = deps;

  app.get(
    '/v1/replication/changes',
    {
      config: { scopes: ['admin', 'replica'] },
      schema: {
        tags: ['replication'],
        summary: 'Changes after a revision, in order (long-poll); 410 below the retained history',
        querystring: FeedQuery,
        headers: FollowerHeaders,
        response: { 200: PageSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const waitMs = Math.min(
        MAX_FEED_WAIT_MS,
        request.query.wait === undefined ? DEFAULT_FEED_WAIT_MS : parseDuration(request.query.wait),
      );
      const aborted = new AbortController();
      const onClose = () => aborted.abort();
      request.raw.once('close', onClose);
      reply.raw.once('close', onClose);
      // The long-poll outlives the request's store budget on purpose; its store calls have their own.
      // (Only etcd reads it; on SQLite it would only turn on promise hooks for good, see app.ts.)
      if (store.backend !== 'sqlite') operationDeadline.enterWith(performance.now() + waitMs + 5000);
      // The primary's picture of its followers (docs/replication.md "Followers").
      const seen = app.followers.feedRequest(
        FollowerRegistry.idOf(request.headers[FOLLOWER_HEADER]),
        request.ip,
        request.query.after,
      );
      const page = await store
        .changesSince({
          after: request.query.after,
          limit: request.query.limit,
          waitMs,
          signal: aborted.signal,
        })
        .then(
          (answer) => {
            seen(answer.head);
            return answer;
          },
          (err: unknown) => {
            seen();
            throw err;
          },
        )
        .finally(() => {
          request.raw.off('close', onClose);
          reply.raw.off('close', onClose);
        });
      const { epoch } = await store.epochState();
      if (request.headers.accept?.includes('application/x-ndjson')) {
        const lines = page.changes.map((c) => JSON.stringify(c));
        lines.push(JSON.stringify({ through: page.through, head: page.head, oldest: page.oldest, epoch }));
        return reply.type('application/x-ndjson').send(`${lines.join('\n')}\n`);
      }
      return { ...page, epoch };
    },
  );

  app.get(
    '/v1/replication/snapshot',
    {
      config: { scopes: ['admin', 'replica'] },
      schema: {
        tags: ['replication'],
        summary: 'Every replicated record, read at one revision: what a replica replaces its state with',
        response: {
          200: Type.Object({
            revision: Type.Integer(),
            epoch: Type.Optional(Type.Integer()),
            records: Type.Array(RecordSchema),
          }),
          ...problemResponses,
        },
      },
    },
    async () => {
      // Read before the snapshot: an epoch that moved between the two is seen by the next page.
      const { epoch } = await store.epochState();
      return { ...(await store.replicationSnapshot()), epoch };
    },
  );

  app.get(
    '/v1/replication/digest',
    {
      config: { scopes: ['admin', 'operator', 'replica'] },
      schema: {
        tags: ['replication'],
        summary:
          "A canonical digest of the replicated state and the revision it is at (a replica's: its position)",
        response: {
          200: Type.Object({
            revision: Type.Integer(),
            digest: Type.String(),
            counts: Type.Record(Type.String(), Type.Integer()),
          }),
          ...problemResponses,
        },
      },
    },
    async () => {
      const snapshot = await store.replicationSnapshot();
      const position = deps.replication ? (await deps.replication.status()).position : snapshot.revision;
      return { revision: position, ...stateDigest(snapshot.records) };
    },
  );
};

/** A write on a replica: refused with the primary's URL (docs/replication.md). */
export function replicaReadOnly(primary: string): LeaseholdError {
  return new LeaseholdError(
    'REPLICA_READ_ONLY',
    `this node is a read-only replica of ${primary}; send writes there`,
    { primary },
  );
}
