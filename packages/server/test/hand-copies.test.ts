import { randomUUID } from 'node:crypto';
import {
  LEASE_TOKEN_TYP as CLIENT_TOKEN_TYP,
  type LeaseTokenClaims as ClientClaims,
} from '@leasehold/client';
import {
  KEY_CERT_TYP as CLIENT_KEY_CERT_TYP,
  LICENSE_TYP as CLIENT_LICENSE_TYP,
} from '@leasehold/client/internal';
import { FakeCluster } from '@leasehold/client/testing';
import type {
  Hello,
  NodeStatus,
  SeatUsage,
  Snapshot,
  StatsSummary,
  StoreMember,
} from '@leasehold/dashboard/snapshot';
import {
  ERROR_CODES,
  ERROR_REGISTRY,
  KEY_CERT_TYP,
  LEASE_TOKEN_TYP,
  type LeaseTokenClaims,
  LICENSE_TYP,
  ManualClock,
} from '@leasehold/domain';
import { SingleNodeMembership } from '@leasehold/store';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import Value from 'typebox/value';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DashboardSnapshot } from '../src/dashboard/live-snapshots.js';
import { LeaseView, LeaseWithToken, Problem } from '../src/http/schemas.js';
import { ADMIN_TOKEN, makeTestApp, T0, type TestApp } from './helpers/test-app.js';

/**
 * Shapes that other packages copy by hand because their package boundary forbids importing the source
 * (issue 10): the SDK's `FakeCluster` (the client depends on jose only) copies the error registry and the
 * lease view, and its lease token claims. Each test here fails when a copy and its source differ. The live snapshot's types are the
 * dashboard's own (browser code cannot import the server; the server imports them): here a real node's
 * events are held to exactly the keys those types list.
 */

/** `keys` lists every key of T exactly: leaving one out fails to compile, naming one T lacks too. */
function allKeys<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    keys: K,
    ..._complete: [Exclude<keyof T, K[number]>] extends [never] ? [] : [missing: Exclude<keyof T, K[number]>]
  ): string[] => [...keys].sort();
}

// Compile-time: what the server pushes is a `Snapshot` to the dashboard (the server builds it with the
// dashboard's types; should it ever define its own again, an incompatible one fails `tsc -b` here).
const asDashboardSnapshot = (snapshot: DashboardSnapshot): Snapshot => snapshot;

// Compile-time: the SDK's lease token claims (a copy: the client depends on jose only) and the domain's
// are one type, each assignable to the other.
const claimsBothWays = [(c: LeaseTokenClaims): ClientClaims => c, (c: ClientClaims): LeaseTokenClaims => c];
const CLAIM_KEYS = allKeys<ClientClaims>()([
  'iss',
  'sub',
  'jti',
  'lic',
  'feat',
  'lver',
  'lhash',
  'fence',
  'slot',
  'grace',
  'epoch',
  'iat',
  'exp',
]);

const SNAPSHOT_KEYS = allKeys<Snapshot>()([
  'time',
  'node',
  'store',
  'nodeTtlMs',
  'nodes',
  'storeMembers',
  'usage',
  'stats',
  'problems',
]);
const NODE_KEYS = allKeys<NodeStatus>()([
  'id',
  'url',
  'version',
  'role',
  'startedAt',
  'heartbeatAgeMs',
  'healthy',
  'departed',
  'self',
]);
const STORE_MEMBER_KEYS = allKeys<StoreMember>()([
  'name',
  'endpoint',
  'healthy',
  'leader',
  'raftTerm',
  'dbSizeBytes',
  'error',
]);
const USAGE_KEYS = allKeys<SeatUsage>()(['license', 'feature', 'seats', 'inUse']);
const STATS_KEYS = allKeys<StatsSummary>()(['requestsTotal', 'errorsTotal', 'latencyMs']);
const HELLO_KEYS = allKeys<Hello>()(['node', 'scope', 'intervalMs', 'canForceRelease']);

const sorted = (value: unknown) => Object.keys(value as object).sort();

/** Reads server-sent events until one of each wanted name arrived; bounded by `ms`. */
async function firstEvents(res: Response, names: string[], ms: number): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + ms;
  let buffer = '';
  try {
    while (names.some((n) => !found.has(n))) {
      if (Date.now() > deadline)
        throw new Error(`no ${names.filter((n) => !found.has(n))} event in ${ms} ms`);
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event && data && !found.has(event)) found.set(event, JSON.parse(data));
      }
    }
  } finally {
    await reader.cancel();
  }
  return found;
}

describe('hand copies of server shapes', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
  });
  afterEach(() => t.close());

  it("FakeCluster answers every error code it knows with the registry's status and retryable", async () => {
    const cluster = await FakeCluster.start();
    const node = cluster.node(0);
    const known: string[] = [];
    for (const code of ERROR_CODES) {
      try {
        node.failNext(code);
      } catch (err) {
        expect(err).toBeInstanceOf(TypeError); // a code the fake never answers with
        continue;
      }
      known.push(code);
      const res = await cluster.fetch(`${node.url}/v1/leases`, { method: 'POST', body: '{}' });
      const body = (await res.json()) as Record<string, unknown>;
      const spec = ERROR_REGISTRY[code];
      expect([code, res.status, body.status, body.retryable]).toEqual([
        code,
        spec.status,
        spec.status,
        spec.retryable,
      ]);
      expect(Value.Check(Problem, body), code).toBe(true);
      expect([body.code, body.type]).toEqual([code, `urn:leasehold:error:${code}`]);
    }
    // The codes the fake produces by itself (its routes throw them) are among the ones checked.
    expect(known).toEqual(
      expect.arrayContaining([
        'VALIDATION_FAILED',
        'UNAUTHENTICATED',
        'SEATS_EXHAUSTED',
        'LEASE_NOT_FOUND',
        'LEASE_RELEASED',
        'LEASE_REVOKED',
        'STORE_UNAVAILABLE',
      ]),
    );
  });

  it("FakeCluster's lease view has the server's keys and schema through checkout, renew, revoke and release", async () => {
    const cluster = await FakeCluster.start({ features: { solver: 1 }, now: () => t.clock.now() });
    const fake = async (method: string, path: string, body?: unknown) => {
      const res = await cluster.fetch(`${cluster.urls[0]}${path}`, {
        method,
        headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const real = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
      const res = await t.call({ method, url, ...(payload ? { payload } : {}) });
      return { status: res.statusCode, body: res.json() as Record<string, unknown> };
    };
    const same = (
      step: string,
      a: { status: number; body: Record<string, unknown> },
      b: { status: number; body: Record<string, unknown> },
      schema: typeof LeaseView | typeof LeaseWithToken,
    ) => {
      expect([step, a.status, sorted(a.body), a.body.state]).toEqual([
        step,
        b.status,
        sorted(b.body),
        b.body.state,
      ]);
      expect(Value.Check(schema, a.body), `${step}: ${JSON.stringify(a.body)}`).toBe(true);
    };

    const checkout = { feature: 'solver', client: { id: 'client-1' }, requestId: randomUUID() };
    const fakeLease = await fake('POST', '/v1/leases', checkout);
    const realLease = await real('POST', '/v1/leases', checkout);
    same('checkout', fakeLease, realLease, LeaseWithToken);
    const fakeId = String(fakeLease.body.id);
    const realId = String(realLease.body.id);

    await t.clock.advance(10_000);
    same(
      'renew',
      await fake('POST', `/v1/leases/${fakeId}/renew`),
      await real('POST', `/v1/leases/${realId}/renew`),
      LeaseWithToken,
    );

    cluster.revoke(fakeId);
    expect((await real('POST', `/v1/leases/${realId}/force-release`, {})).status).toBe(200);
    same(
      'read revoked',
      await fake('GET', `/v1/leases/${fakeId}`),
      await real('GET', `/v1/leases/${realId}`),
      LeaseView,
    );

    const again = { ...checkout, requestId: randomUUID() };
    await t.clock.advance(120_000); // past the reservation: the revoked seat is free again
    const fakeSecond = await fake('POST', '/v1/leases', again);
    const realSecond = await real('POST', '/v1/leases', again);
    same('second checkout', fakeSecond, realSecond, LeaseWithToken);
    same(
      'release',
      await fake('DELETE', `/v1/leases/${String(fakeSecond.body.id)}`),
      await real('DELETE', `/v1/leases/${String(realSecond.body.id)}`),
      LeaseView,
    );
  });

  it("the SDK's lease token typ and claims are exactly what a node signs", async () => {
    expect(claimsBothWays).toHaveLength(2);
    expect(CLIENT_TOKEN_TYP).toBe(LEASE_TOKEN_TYP);
    // The SDK's copies of the license and signing-key certificate types (issue 11).
    expect([CLIENT_LICENSE_TYP, CLIENT_KEY_CERT_TYP]).toEqual([LICENSE_TYP, KEY_CERT_TYP]);
    const lease = await t.checkout();
    expect(lease.statusCode).toBe(201);
    const token: string = lease.json().token;
    expect(decodeProtectedHeader(token).typ).toBe(CLIENT_TOKEN_TYP);
    expect(Object.keys(decodeJwt(token)).sort()).toEqual(CLAIM_KEYS);
  });

  it("the dashboard's snapshot and hello types list exactly the keys a node sends", async () => {
    expect(asDashboardSnapshot).toBeTypeOf('function');
    // A node with the embedded store's membership, as `startNode` gives it: itself listed, one store member.
    const clock = new ManualClock(T0);
    const membership = new SingleNodeMembership(() => clock.now(), 'sqlite');
    await membership.join({
      id: 'test-node',
      url: 'http://127.0.0.1:7300',
      version: '0.0.0-test',
      startedAt: T0,
    });
    const node = await makeTestApp({ clock, deps: { membership } });
    let events: Map<string, unknown>;
    try {
      expect((await node.install()).statusCode).toBe(201);
      const base = await node.app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(200);
      events = await firstEvents(res, ['hello', 'snapshot'], 10_000);
    } finally {
      await node.close();
    }
    expect(sorted(events.get('hello'))).toEqual(HELLO_KEYS);
    const snapshot = events.get('snapshot') as Snapshot;
    expect(sorted(snapshot)).toEqual(SNAPSHOT_KEYS);
    expect(snapshot.nodes.length).toBeGreaterThan(0);
    for (const node of snapshot.nodes) expect(sorted(node)).toEqual(NODE_KEYS);
    expect(snapshot.usage.length).toBeGreaterThan(0);
    for (const usage of snapshot.usage) expect(sorted(usage)).toEqual(USAGE_KEYS);
    expect(snapshot.stats).not.toBeNull();
    expect(sorted(snapshot.stats)).toEqual(STATS_KEYS);
    expect(sorted(snapshot.stats?.latencyMs)).toEqual(['p50', 'p99']);
    // Optional keys (raftTerm, dbSizeBytes, error) are left out of the JSON when a store has none.
    expect(snapshot.storeMembers.length).toBeGreaterThan(0);
    for (const member of snapshot.storeMembers) {
      expect(STORE_MEMBER_KEYS).toEqual(expect.arrayContaining(sorted(member)));
      expect(sorted(member)).toEqual(expect.arrayContaining(['endpoint', 'healthy', 'leader', 'name']));
    }
  });
});
