import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AUDIT_ACTIONS } from '@leasehold/domain';
import Type from 'typebox';
import { exportAuditLines } from '../../audit/audit-export.js';
import type { AppDeps } from '../app-deps.js';
import { problemResponses } from '../schemas.js';

const Seq = Type.Integer({ minimum: 0 });
const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });

const AuditEventView = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  time: Type.Integer({ description: 'Wall-clock milliseconds of the change, by the acting node' }),
  node: Type.String(),
  actor: Type.String({ description: '`<scope>:<token id>`, or `system:<task>`' }),
  action: Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a))),
  subject: Type.String({ description: '`license:<id>`, `lease:<id>`, `token:<id>` or `node:<id>`' }),
  details: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
  ),
});

/**
 * The audit trail over HTTP (docs/audit.md): a page of sealed events for people and the dashboard, and
 * the full NDJSON export that `leasehold audit verify` checks offline.
 */
export const auditRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { store } = deps;

  app.get(
    '/v1/audit/events',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['audit'],
        summary: 'Sealed audit events, newest first, with the chain head and the unsealed count',
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
            before: Type.Optional(
              Type.Integer({ minimum: 1, description: 'Only events with a lower seq (paging)' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            events: Type.Array(AuditEventView),
            head: Type.Object({ seq: Seq, hash: Hash }),
            unsealed: Type.Integer({ minimum: 0, description: 'Records written but not sealed yet' }),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const status = await store.auditStatus();
      const before = Math.min(request.query.before ?? status.head.seq + 1, status.head.seq + 1);
      const entries = await store.auditEntries({ beforeSeq: before, limit: request.query.limit });
      return {
        events: entries.map(({ seq, time, node, actor, action, subject, details }) => ({
          seq,
          time,
          node,
          actor,
          action,
          subject,
          ...(details !== undefined ? { details } : {}),
        })),
        head: status.head,
        unsealed: status.unsealed,
      };
    },
  );

  app.get(
    '/v1/audit/export',
    {
      config: { scopes: ['admin', 'operator'] },
      schema: {
        tags: ['audit'],
        summary: 'The live audit trail as NDJSON: anchor, entries, checkpoints, then pending records',
        description:
          'One JSON object per line, each with a `type`: `anchor`, `entry`, `checkpoint` or `pending`. ' +
          'Verify it offline with `leasehold audit verify`.',
        response: {
          200: Type.String({ description: 'application/x-ndjson' }),
          ...problemResponses,
        },
      },
    },
    async (_request, reply) => {
      // Read the first page before answering, so a store that is down still gets a problem+json 503.
      const lines = exportAuditLines(store);
      const first = await lines.next();
      async function* all(): AsyncGenerator<string> {
        if (!first.done) yield first.value;
        yield* lines;
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(all()));
    },
  );
};
