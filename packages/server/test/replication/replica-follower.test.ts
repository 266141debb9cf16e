import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '@leasehold/devtools';
import { systemClock } from '@leasehold/domain';
import {
  buildApp,
  ClusterKeyring,
  HttpUpstreamFeed,
  ReplicaFollower,
  readOnlyStore,
} from '@leasehold/server/internal';
import { SqliteStore, stateDigest } from '@leasehold/store';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

const silent = { info: () => {}, warn: () => {} };

describe('change feed over HTTP and a replica following it', () => {
  let primary: TestApp;
  let url: string;
  let replicaToken: string;
  let dir: string;
  let replicaStore: SqliteStore;
  let follower: ReplicaFollower | undefined;
  let replicaApp: FastifyInstance | undefined;

  beforeEach(async () => {
    primary = await makeTestApp();
    expect((await primary.install()).statusCode).toBe(201);
    const res = await primary.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'replica', name: 'dr' },
    });
    expect(res.statusCode, res.body).toBe(201);
    replicaToken = res.json().token;
    url = await primary.app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'leasehold-replica-'));
    replicaStore = new SqliteStore({
      path: join(dir, 'replica.db'),
      kek: randomBytes(32),
      // A replica re-verifies the licenses it copies, against its own configured vendor keys (issue 11).
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
    });
  });
  afterEach(async () => {
    await follower?.stop();
    await replicaApp?.close();
    await replicaStore.close();
    await primary.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const primaryDigest = async () => {
    const res = await primary.call({ method: 'GET', url: '/v1/replication/digest', token: replicaToken });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { revision: number; digest: string };
  };

  it('pages as JSON and NDJSON; a revision past the head is a 410 problem', async () => {
    const page = await primary.call({
      method: 'GET',
      url: '/v1/replication/changes?after=0&wait=0ms',
      token: replicaToken,
    });
    expect(page.statusCode, page.body).toBe(200);
    const body = page.json();
    expect(body.changes.some((c: { record?: { kind: string } }) => c.record?.kind === 'license')).toBe(true);
    expect(body.through).toBe(body.head);
    const nd = await primary.call({
      method: 'GET',
      url: '/v1/replication/changes?after=0&wait=0ms',
      token: replicaToken,
      headers: { accept: 'application/x-ndjson' },
    });
    expect(nd.headers['content-type']).toContain('application/x-ndjson');
    const lines = nd.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual({ through: body.through, head: body.head, oldest: body.oldest, epoch: 1 });
    expect(lines.length - 1).toBe(body.changes.length);
    const gone = await primary.call({
      method: 'GET',
      url: `/v1/replication/changes?after=${body.head + 100}&wait=0ms`,
      token: replicaToken,
    });
    expect(gone.statusCode).toBe(410);
    expect(gone.headers['content-type']).toContain('application/problem+json');
    expect(gone.json().code).toBe('REPLICATION_HISTORY_COMPACTED');
  });

  it('a replica converges to the primary, serves reads and refuses writes naming the primary', async () => {
    follower = new ReplicaFollower({
      upstream: new HttpUpstreamFeed({ url, token: replicaToken }),
      target: replicaStore,
      clock: systemClock,
      log: silent,
      waitMs: 1000,
    });
    follower.start();
    const sameDigest = async (what: string) =>
      pollUntil(
        async (_left, note) => {
          const want = await primaryDigest();
          const got = stateDigest((await replicaStore.replicationSnapshot()).records).digest;
          note(
            `primary ${want.digest.slice(0, 8)}@${want.revision}, replica ${got.slice(0, 8)}@${follower?.status().position}`,
          );
          return got === want.digest && follower?.status().position === want.revision;
        },
        { what, timeoutMs: 10_000, intervalMs: 50 },
      );
    await sameDigest('the replica to hold the primary state');
    // More changes: a checkout, a check-in, a token revoked.
    const lease = (await primary.checkout()).json();
    await primary.call({ method: 'DELETE', url: `/v1/leases/${lease.id}` });
    const extra = await primary.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'operator' } });
    await primary.call({ method: 'DELETE', url: `/v1/tokens/${extra.json().id}` });
    await sameDigest('the replica to follow the new changes');

    const served = readOnlyStore(replicaStore, url);
    replicaApp = await buildApp({
      store: served,
      clock: systemClock,
      keyring: await ClusterKeyring.load(served, Date.now()),
      licenseKeys: { vendorKeys: new Map() },
      newId: () => 'unused',
      nodeId: 'replica',
      version: '0.0.0-test',
      replication: follower,
    });
    const asAdmin = { authorization: `Bearer ${(await import('../helpers/test-app.js')).ADMIN_TOKEN}` };
    // Reads with the primary's own tokens (replicated by hash).
    const licenses = await replicaApp.inject({ method: 'GET', url: '/v1/licenses', headers: asAdmin });
    expect(licenses.statusCode, licenses.body).toBe(200);
    expect(licenses.json().licenses.map((l: { id: string }) => l.id)).toEqual(['lic-1']);
    const jwks = await replicaApp.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const primaryJwks = await primary.call({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(jwks.json()).toEqual(primaryJwks.json());
    const write = await replicaApp.inject({
      method: 'POST',
      url: '/v1/leases',
      headers: asAdmin,
      payload: { feature: 'solver', client: { id: 'c' }, requestId: 'request-0001' },
    });
    expect(write.statusCode).toBe(503);
    expect(write.json()).toMatchObject({ code: 'REPLICA_READ_ONLY', retryable: true, primary: url });
    // An edge's seat block is a write too: a replica lends no seats.
    const block = await replicaApp.inject({
      method: 'PUT',
      url: '/v1/edge/blocks',
      headers: asAdmin,
      payload: {
        site: 'edge-a',
        license: 'lic-1',
        feature: 'solver',
        seats: 1,
        holdMs: 3000,
        requestId: 'r',
      },
    });
    expect(block.statusCode).toBe(503);
    expect(block.json()).toMatchObject({ code: 'REPLICA_READ_ONLY', primary: url });
    const cluster = await replicaApp.inject({ method: 'GET', url: '/v1/cluster', headers: asAdmin });
    expect(cluster.json().replica).toMatchObject({ primary: url, lagRevisions: 0, connected: true });
    const digest = await replicaApp.inject({
      method: 'GET',
      url: '/v1/replication/digest',
      headers: asAdmin,
    });
    expect(digest.json()).toMatchObject(await primaryDigest());
  });
});
