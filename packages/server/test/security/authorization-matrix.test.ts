import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The authorization matrix (issue 5): every route × every kind of caller, against the policy below.
 * The policy is written out here, not read from the routes' own declarations, so a route that declares
 * the wrong scopes fails; a route missing from the policy fails too, so no new route goes unreviewed.
 *
 *   admin     everything
 *   operator  every read, plus force-release (issue 5: "read + force-release")
 *   client    the lease routes of the one license its token is bound to, and the node list; as an edge
 *             site's upstream token, that license's seat block, signed file, client tokens and audit upload
 *   replica   the change feed, the snapshot and the digest (a DR replica's or an edge's upstream token;
 *             the feed carries signing keys, so operators do not read it); as an edge's upstream token,
 *             every license's seat blocks, signed files, client tokens and audit upload
 */
type Caller = 'anonymous' | 'bogus' | 'admin' | 'operator' | 'client' | 'replica';
const CALLERS: readonly Caller[] = ['anonymous', 'bogus', 'admin', 'operator', 'client', 'replica'];
const PUBLIC: readonly Caller[] = CALLERS;
const READ: readonly Caller[] = ['admin', 'operator'];
const ADMIN: readonly Caller[] = ['admin'];
const LEASE: readonly Caller[] = ['admin', 'client'];
/** The primary's side of edge sites: the edge's upstream token is a client token or a replica one. */
const EDGE: readonly Caller[] = ['admin', 'client', 'replica'];

const POLICY: Readonly<Record<string, readonly Caller[]>> = {
  'GET /healthz': PUBLIC,
  'GET /readyz': PUBLIC,
  'GET /.well-known/jwks.json': PUBLIC,
  'GET /openapi.json': PUBLIC,
  'POST /v1/licenses': ADMIN,
  'GET /v1/licenses': READ,
  'GET /v1/licenses/:id': READ,
  'POST /v1/licenses/:id/revoke': ADMIN,
  'POST /v1/drain': ADMIN,
  'POST /v1/leases': LEASE,
  'POST /v1/leases/:id/renew': LEASE,
  'POST /v1/leases/renew': LEASE,
  'DELETE /v1/leases/:id': LEASE,
  'GET /v1/leases/:id': ['admin', 'operator', 'client'],
  'GET /v1/leases': READ,
  'POST /v1/leases/:id/force-release': ['admin', 'operator'],
  'POST /v1/tokens': ADMIN,
  'GET /v1/tokens': ADMIN,
  'DELETE /v1/tokens/:id': ADMIN,
  'GET /v1/audit/events': READ,
  'GET /v1/audit/export': READ,
  'GET /v1/nodes': ['admin', 'operator', 'client'],
  'GET /v1/cluster': ['admin', 'operator', 'client'],
  'GET /v1/events': READ,
  'GET /v1/replication/changes': ['admin', 'replica'],
  'GET /v1/replication/snapshot': ['admin', 'replica'],
  'GET /v1/replication/digest': ['admin', 'operator', 'replica'],
  // Promotion (docs/replication.md): an admin's act on a replica (this node is none: 409 NOT_A_REPLICA).
  'POST /v1/replication/promote': ADMIN,
  // Authorized by the statement's signature with the cluster's key, not by a token (no body here: 400).
  'POST /v1/replication/fence': PUBLIC,
  // Peers prove themselves with a node certificate over mTLS (tls tests); a plaintext node has none to
  // ask for, and the route tells only the time.
  'GET /v1/peer/time': PUBLIC,
  'GET /metrics': PUBLIC,
  'GET /': PUBLIC,
  'GET /dashboard/:file': PUBLIC,
  // Edge sites (docs/replication.md): the primary's side takes the edge's upstream token.
  'PUT /v1/edge/blocks': EDGE,
  'GET /v1/edge/blocks': READ,
  'GET /v1/edge/licenses/:id/file': EDGE,
  'GET /v1/edge/licenses/:id/tokens': EDGE,
  'POST /v1/edge/audit': EDGE,
  'GET /v1/edge/site': READ,
  'PUT /v1/edge/site/blocks': ADMIN,
};

/** Routes that stream until the client leaves: called over a real socket and left after the head. */
const STREAMING = new Set(['GET /v1/events']);

describe('authorization matrix', () => {
  let t: TestApp;
  let tokens: Record<Caller, string | null>;

  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
    const make = async (payload: object) => {
      const res = await t.call({ method: 'POST', url: '/v1/tokens', payload });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().token as string;
    };
    tokens = {
      anonymous: null,
      bogus: `lh_admin_${'x'.repeat(43)}`,
      admin: undefined as unknown as string,
      operator: await make({ scope: 'operator', name: 'ops' }),
      client: await make({ scope: 'client', license: 'lic-1', name: 'app' }),
      replica: await make({ scope: 'replica', name: 'dr' }),
    };
  });
  afterEach(() => t.close());

  /** Opens a stream over a real socket, reads its status (and body when it is an error), and leaves. */
  const streamHead = async (url: string, token: string | null) => {
    // One listener per test; t.close() in afterEach closes it with the app.
    const address = t.app.server.listening ? undefined : await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = address ?? `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    const abort = new AbortController();
    const res = await fetch(`${base}${url}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    const body = res.ok ? '' : await res.text();
    abort.abort();
    return { statusCode: res.status, body, json: () => JSON.parse(body) };
  };

  /** Fresh records for the route's `:id`, made with the admin token, so a call can act on them. */
  const target = async (method: string, url: string): Promise<{ url: string; payload?: object }> => {
    if (url.startsWith('/v1/leases/:id')) {
      const client = `c-${Math.random()}`;
      const lease = (await t.checkout({ client: { id: client } })).json();
      if (url.endsWith('force-release')) return { url: url.replace(':id', lease.id), payload: {} };
      // Client tokens act on their own client's leases only (issue 11): the caller names that client.
      return { url: `${url.replace(':id', lease.id)}?client=${encodeURIComponent(client)}` };
    }
    if (url.startsWith('/v1/licenses/:id') || url.startsWith('/v1/edge/licenses/:id')) {
      return { url: url.replace(':id', 'lic-1') };
    }
    if (url === '/v1/edge/blocks') {
      const payload = {
        site: 'edge-a',
        license: 'lic-1',
        feature: 'solver',
        seats: 1,
        holdMs: 3000,
        requestId: 'r',
      };
      return { url, payload };
    }
    if (url === '/v1/edge/site/blocks')
      return { url, payload: { license: 'lic-1', feature: 'solver', seats: 1 } };
    if (url === '/v1/edge/audit') {
      const entry = { seq: 1, prevHash: '0'.repeat(64), hash: '1'.repeat(64), action: 'lease.granted' };
      const full = { ...entry, actor: 'system', subject: 'lease:x', time: 1, node: 'edge-a' };
      return {
        url,
        payload: { site: 'edge-a', previous: { seq: 0, hash: '0'.repeat(64) }, entries: [full] },
      };
    }
    if (url.startsWith('/v1/tokens/:id')) {
      const res = await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'admin', name: 'x' } });
      return { url: url.replace(':id', res.json().id) };
    }
    if (url === '/v1/leases/renew') {
      // A new lease, or (seats all taken by earlier callers' targets) one that holds a seat already.
      const fresh = (await t.checkout({ client: { id: `c-${Math.random()}` } })).json();
      const lease = fresh.id
        ? fresh
        : (await t.call({ method: 'GET', url: '/v1/leases?limit=1' })).json().leases[0];
      // Client tokens renew their own client's leases only (issue 11): the call names that client.
      return {
        url: `${url}?client=${encodeURIComponent(lease.client.id)}`,
        payload: { leases: [{ id: lease.id }] },
      };
    }
    if (url === '/v1/leases' && method === 'GET') {
      // A second page, by the cursor of a first one: pagination is authorized like the listing itself.
      for (let i = 0; i < 2; i++) await t.checkout({ client: { id: `c-${Math.random()}` } });
      const first = await t.call({ method: 'GET', url: '/v1/leases?limit=1' });
      expect(first.json().next, first.body).toBeTypeOf('string');
      return { url: `/v1/leases?limit=1&after=${encodeURIComponent(first.json().next)}` };
    }
    if (url === '/v1/leases') {
      return { url, payload: { feature: 'solver', client: { id: 'c' }, requestId: `req-${Math.random()}` } };
    }
    if (url === '/v1/licenses') return { url, payload: { license: await t.vendor.issue({ ver: 2 }) } };
    if (url === '/v1/tokens') return { url, payload: { scope: 'client', license: 'lic-1' } };
    if (url === '/dashboard/:file') return { url: '/dashboard/main.js' };
    if (url === '/v1/replication/changes') return { url: `${url}?after=0&wait=0ms` };
    return { url };
  };

  it('lists every route of the node in the policy', async () => {
    await t.app.ready();
    const routes = t.app.routeTable.map((r) => `${r.method} ${r.url}`).sort();
    expect(routes).toEqual(Object.keys(POLICY).sort());
  });

  for (const [route, allowed] of Object.entries(POLICY)) {
    it(`${route}: ${allowed.join(', ')}`, async () => {
      const [method, url] = route.split(' ') as [string, string];
      // Denied callers first: an allowed call may change what the route acts on (a revocation).
      const order = [...CALLERS].sort((a, b) => Number(allowed.includes(a)) - Number(allowed.includes(b)));
      for (const caller of order) {
        const { url: concrete, payload } = await target(method, url);
        const token = caller === 'admin' ? undefined : tokens[caller];
        const res = STREAMING.has(route)
          ? await streamHead(concrete, token === undefined ? ADMIN_TOKEN : token)
          : await t.call({ method: method as 'GET', url: concrete, token, payload });
        const seen = `${caller} ${method} ${concrete} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, seen).toBeLessThan(500);
        if (allowed.includes(caller)) {
          expect([401, 403], seen).not.toContain(res.statusCode);
        } else if (caller === 'anonymous' || caller === 'bogus') {
          expect([res.statusCode, res.json().code], seen).toEqual([401, 'UNAUTHENTICATED']);
        } else {
          expect([res.statusCode, res.json().code], seen).toEqual([403, 'FORBIDDEN']);
        }
      }
    });
  }
});
