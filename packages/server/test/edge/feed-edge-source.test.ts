import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pollUntil } from '@leasehold/devtools';
import { LeaseholdError, systemClock } from '@leasehold/domain';
import {
  ClusterKeyring,
  EdgeSync,
  FeedEdgeSource,
  HttpUpstreamFeed,
  UPSTREAM_TOKEN_NAME,
} from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

const silent = { info: () => {}, warn: () => {} };

describe('FeedEdgeSource: an edge copies licenses and tokens from the change feed', () => {
  let primary: TestApp;
  let source: FeedEdgeSource | undefined;
  let edgeStore: SqliteStore | undefined;
  afterEach(async () => {
    await source?.stop();
    await edgeStore?.close();
    await primary.close();
  });

  it('serves the license file and client tokens from the feed, follows revocations, installs through EdgeSync', async () => {
    primary = await makeTestApp();
    expect((await primary.install()).statusCode).toBe(201);
    const replica = await primary.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'replica' } });
    const client = await primary.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1', name: 'app' },
    });
    // Not a client token of lic-1: never copied.
    await primary.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'operator' } });
    const url = await primary.app.listen({ host: '127.0.0.1', port: 0 });
    source = new FeedEdgeSource({
      upstream: new HttpUpstreamFeed({ url, token: replica.json().token, follower: 'edge-a' }),
      clock: systemClock,
      log: silent,
      waitMs: 500,
    });
    // Before the feed was read to its head it knows nothing, and says so (a sync retries).
    await expect(source.clientTokens('lic-1')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    source.start();
    await source.caughtUp();
    const file = await source.licenseFile('lic-1');
    const installed = (await primary.call({ method: 'GET', url: '/v1/licenses/lic-1' })).json();
    expect(file).toMatchObject({ version: installed.version, revoked: false });
    expect(file.license.split('.')).toHaveLength(3);
    expect(await source.clientTokens('lic-1')).toEqual([
      expect.objectContaining({ id: client.json().id, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    ]);
    await expect(source.licenseFile('lic-9')).rejects.toBeInstanceOf(LeaseholdError);

    // The edge's store, synced through the same verification as with polled reads.
    edgeStore = new SqliteStore({
      path: join(primary.dataDir, 'edge.db'),
      kek: randomBytes(32),
      node: 'edge-a',
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
    });
    const sync = new EdgeSync({
      source,
      store: edgeStore,
      licenseIds: ['lic-1'],
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
      clusterId: (await ClusterKeyring.load(edgeStore, primary.clock.now())).clusterId,
      clock: primary.clock,
      audit: { actor: 'system:edge', node: 'edge-a' },
    });
    await sync.syncOnce();
    expect((await edgeStore.getLicense('lic-1'))?.version).toBe(installed.version);
    const copied = (await edgeStore.listTokens()).filter((t) => t.name === UPSTREAM_TOKEN_NAME);
    expect(copied.map((t) => [t.id, t.revokedAt])).toEqual([[client.json().id, undefined]]);

    // A revocation at the primary arrives with the long-poll's answer, then the sync revokes the copy.
    expect((await primary.call({ method: 'DELETE', url: `/v1/tokens/${client.json().id}` })).statusCode).toBe(
      200,
    );
    await pollUntil(async () => (await source?.clientTokens('lic-1'))?.[0]?.revokedAt !== undefined, {
      what: 'the revocation through the feed',
      timeoutMs: 5000,
      intervalMs: 20,
    });
    await sync.syncOnce();
    expect((await edgeStore.listTokens()).find((t) => t.id === client.json().id)?.revokedAt).toBeDefined();

    // The primary lists the edge once, with its feed position.
    await primary.call({
      method: 'PUT',
      url: '/v1/edge/blocks',
      headers: { 'leasehold-follower': 'edge-a' },
      payload: {
        site: 'edge-a',
        license: 'lic-1',
        feature: 'solver',
        seats: 1,
        holdMs: 60_000,
        requestId: 'r-1',
      },
    });
    const followers = (await primary.call({ method: 'GET', url: '/v1/cluster' })).json().replication
      .followers;
    expect(followers).toEqual([
      expect.objectContaining({
        id: 'edge-a',
        role: 'edge',
        position: expect.any(Number),
        blocks: [expect.anything()],
      }),
    ]);
  });
});
