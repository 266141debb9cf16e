import { join } from 'node:path';
import { ERROR_CODES } from '@leasehold/domain';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../helpers/test-app.js';
import { fromSchema, type JsonSchema, nastyString } from './schema-arbitrary.js';

/**
 * API fuzzing (issue 5): random requests shaped by every route's own schemas, sent through inject()
 * against a real SQLite-backed app. Whatever arrives, the node answers: never a 5xx, never a crash, and
 * every rejection is problem+json carrying a registered code.
 */
const RUNS = Number(process.env.LEASEHOLD_FUZZ_RUNS ?? 20_000);

/**
 * Routes that stream until the client leaves (inject() would wait forever), or long-poll for up to a
 * minute when nothing changes (the change feed: 20,000 such waits would not end); they have their own
 * tests (replication/replica-follower.test.ts for the feed).
 */
const STREAMING = new Set(['GET /v1/events', 'GET /v1/replication/changes']);
/**
 * Routes whose one legitimate effect ends the node's service: once drained, /readyz answers 503
 * NODE_SHUTTING_DOWN by design, which this test's "no 5xx" rule cannot tell from a fault. Draining has
 * its own tests (drain.test.ts) and its authorization is in the matrix.
 */
const TERMINAL = new Set(['POST /v1/drain']);

interface OpenApiParameter {
  readonly in: 'path' | 'query' | 'header';
  readonly name: string;
  readonly schema: JsonSchema;
}
interface FuzzRoute {
  readonly method: string;
  /** OpenAPI path, e.g. /v1/leases/{id}/renew. */
  readonly path: string;
  readonly params: readonly OpenApiParameter[];
  readonly body: JsonSchema | undefined;
}

const CODES = new Set<string>(ERROR_CODES);

/**
 * Valid checkouts, mixed into that route's cases: random bodies almost never name a licensed feature,
 * and the grant, exhaustion, replay and release paths behind them are where the state is.
 */
const CHECKOUTS = new Set(['POST /v1/leases']);
const validCheckout = fc.record(
  {
    feature: fc.constantFrom('solver', 'solver', 'viewer'),
    license: fc.constantFrom('lic-1', 'lic-2'),
    client: fc.record({ id: fc.constantFrom('c1', 'c2', 'c3', 'c4', 'c5') }),
    // A small space of request ids, so that retries (same id) and conflicts (same id, other body) occur.
    requestId: fc.integer({ min: 0, max: 40 }).map((n) => `request-${n}`),
  },
  { requiredKeys: ['feature', 'client', 'requestId'] },
);

/**
 * Valid many-lease renewals, mixed into that route's cases likewise: known leases (live, ended, of
 * another license for the client token) beside unknown ids, so per-lease answers of every kind occur.
 */
const RENEWALS = new Set(['POST /v1/leases/renew']);
const validRenewals = (known: readonly string[]) =>
  fc
    .uniqueArray(fc.constantFrom(...known, 'no-such-lease', 'another-unknown'), {
      minLength: 1,
      maxLength: 5,
    })
    .map((ids) => ({ leases: ids.map((id) => ({ id })) }));

/** Picks by weight, evenly: fast-check's own bias toward the first options would skew the mix. */
function weighted<T>(choices: ReadonlyArray<readonly [T, number]>): fc.Arbitrary<T> {
  const total = choices.reduce((n, [, w]) => n + w, 0);
  return fc.noBias(fc.integer({ min: 0, max: total - 1 })).map((roll) => {
    let rest = roll;
    for (const [value, w] of choices) {
      if (rest < w) return value;
      rest -= w;
    }
    throw new Error('unreachable');
  });
}

describe('API fuzzing', () => {
  let t: TestApp;
  let routes: FuzzRoute[];
  const tokens: Record<string, string | null> = {};
  const known: string[] = [];

  beforeAll(async () => {
    // Rate limits off: with them, most cases would stop at 429 (they have their own tests).
    t = await makeTestApp({ deps: { limits: { leaseRateLimitPerMinute: 0, authFailureLimitPerMinute: 0 } } });
    expect((await t.install()).statusCode).toBe(201);
    expect((await t.install(await t.vendor.issue({ lid: 'lic-2' }))).statusCode).toBe(201);
    const client = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1', name: 'fuzz-client' },
    });
    tokens.client = client.json().token;
    // The operator scope, where this build has it.
    const operator = await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'operator' } });
    if (operator.statusCode === 201) tokens.operator = operator.json().token;
    for (let i = 0; i < 2; i++) known.push((await t.checkout({ client: { id: `c${i}` } })).json().id);
    tokens.admin = ADMIN_TOKEN;
    tokens.garbage = 'lh_admin_not-a-real-token';
    tokens.none = null;
    known.push('lic-1', 'lic-2', 'solver');

    await t.app.ready();
    const spec = (t.app as unknown as { swagger(): unknown }).swagger() as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: OpenApiParameter[];
            requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
          }
        >
      >;
    };
    // Every route the node serves, with its schemas from the OpenAPI document where it has them (routes
    // hidden from the document, like the dashboard's files, get a plain string per path parameter).
    routes = t.app.routeTable
      .filter((r) => !STREAMING.has(`${r.method} ${r.url}`) && !TERMINAL.has(`${r.method} ${r.url}`))
      .map((r) => {
        const path = r.url.replace(/:(\w+)/g, '{$1}');
        const op = spec.paths[path]?.[r.method.toLowerCase()];
        const named = [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
        return {
          method: r.method,
          path,
          params:
            op?.parameters ??
            named.map((name) => ({ in: 'path' as const, name, schema: { type: 'string' } })),
          body: op?.requestBody?.content?.['application/json']?.schema,
        };
      });
    if (process.env.LEASEHOLD_FUZZ_ONLY)
      routes = routes.filter((r) => `${r.method} ${r.path}` === (process.env.LEASEHOLD_FUZZ_ONLY ?? ''));
    expect(routes.length).toBeGreaterThan(0);
  });
  afterAll(() => t?.close());

  const requestFor = (route: FuzzRoute): fc.Arbitrary<InjectOptions> => {
    // Revocations get unknown ids only: revoking the fixtures would leave nothing for later cases to reach.
    const ids = /revoke|tokens\/\{/.test(route.path) ? [] : known;
    const pathParams = route.params.filter((p) => p.in === 'path');
    const queryParams = route.params.filter((p) => p.in === 'query');
    const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
    return fc
      .record({
        path: fc.tuple(...pathParams.map((p) => fromSchema(p.schema, ids))),
        query: fc.tuple(...queryParams.map((p) => fc.option(fromSchema(p.schema, ids), { freq: 2 }))),
        body: route.body
          ? fc.oneof(
              { weight: 6, arbitrary: fromSchema(route.body, ids).map((b) => JSON.stringify(b)) },
              ...(CHECKOUTS.has(`${route.method} ${route.path}`)
                ? [{ weight: 4, arbitrary: validCheckout.map((b) => JSON.stringify(b)) }]
                : []),
              ...(RENEWALS.has(`${route.method} ${route.path}`)
                ? [{ weight: 4, arbitrary: validRenewals(known).map((b) => JSON.stringify(b)) }]
                : []),
              { weight: 1, arbitrary: nastyString() },
              { weight: 1, arbitrary: fc.constant(undefined) },
            )
          : fc.option(
              fc.jsonValue({ maxDepth: 2 }).map((b) => JSON.stringify(b)),
              { freq: 4 },
            ),
        contentType: weighted<string | undefined>([
          ['application/json', 12],
          ['application/json; charset=utf-8', 2],
          ['text/plain', 1],
          ['application/x-www-form-urlencoded', 1],
          ['multipart/form-data; boundary=x', 1],
          [undefined, 1],
        ]),
        // Mostly tokens that pass authentication, so that cases reach validation and the handlers.
        token: weighted(Object.keys(tokens).map((k) => [k, k === 'garbage' || k === 'none' ? 1 : 4])),
        method: fc.oneof(
          { weight: 9, arbitrary: fc.constant(route.method) },
          { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
        ),
      })
      .map(({ path, query, body, contentType, token, method }) => {
        let i = 0;
        const url = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(text(path[i++])));
        const search = new URLSearchParams();
        queryParams.forEach((p, j) => {
          const value = query[j];
          if (value !== null && value !== undefined) search.append(p.name, text(value));
        });
        const headers: Record<string, string> = {};
        if (contentType && body !== undefined) headers['content-type'] = contentType;
        const bearer = tokens[token];
        if (bearer) headers.authorization = `Bearer ${bearer}`;
        const qs = search.toString();
        return {
          method: method as InjectOptions['method'],
          url: qs ? `${url}?${qs}` : url,
          headers,
          ...(body === undefined || body === null ? {} : { payload: body }),
        };
      });
  };

  it(`answers ${RUNS} schema-shaped random requests without a 5xx, each rejection a coded problem`, async () => {
    const statuses = new Map<number, number>();
    const seenCodes = new Set<string>();
    const request = fc.constantFrom(...routes).chain(requestFor);
    await fc.assert(
      fc.asyncProperty(request, async (options) => {
        const res = await t.app.inject(options);
        const url = String(options.url);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const where = `${options.method} ${url.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.statusCode, where).toBeLessThan(500);
        if (process.env.LEASEHOLD_FUZZ_ONLY) console.log(where.slice(0, 300));
        if (res.statusCode >= 400) {
          expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
          const problem = res.json();
          expect(CODES.has(problem.code), where).toBe(true);
          expect(problem.status, where).toBe(res.statusCode);
          seenCodes.add(problem.code);
        }
      }),
      { numRuns: RUNS },
    );
    // The node is still whole: it answers, and its store passes SQLite's own integrity check.
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const db = new Database(join(t.dataDir, 'leasehold.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    // The cases reached the handlers, not only the validator: successes and domain errors both occur.
    const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
    expect(ok).toBeGreaterThan(RUNS / 50);
    for (const code of ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'ROUTE_NOT_FOUND']) {
      expect(seenCodes, `never saw ${code}`).toContain(code);
    }
    console.log(
      `fuzz: ${RUNS} cases; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; codes ${[...seenCodes].sort().join(' ')}`,
    );
  }, 600_000);
});
