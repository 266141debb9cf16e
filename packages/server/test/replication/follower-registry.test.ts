import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '@leasehold/devtools';
import { ManualClock, systemClock } from '@leasehold/domain';
import { FollowerRegistry, HttpUpstreamFeed, ReplicaFollower } from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

interface FollowerJson {
  id: string;
  role: string;
  identified: boolean;
  lastSeenSeconds?: number;
  polling?: boolean;
  position?: number;
  lagRevisions?: number;
  lagSeconds?: number;
  lastRenewalSeconds?: number;
  blocks?: { site: string; license: string; feature: string; seats: number; heldForMs: number }[];
}

describe('FollowerRegistry', () => {
  it('dates the lag by the heads it answered with, and counts revisions against the newest', async () => {
    const clock = new ManualClock();
    const registry = new FollowerRegistry({ clock });
    const done = registry.feedRequest('dr-1', '10.0.0.1', 10);
    expect(registry.list()).toMatchObject([{ id: 'dr-1', role: 'replica', polling: true, position: 10 }]);
    done(10);
    expect(registry.list()[0]).toMatchObject({ polling: false, lagRevisions: 0, lagSeconds: 0 });
    // Another follower sees head 15 at t=1 s and 20 at t=3 s; dr-1 is still at 10.
    await clock.advance(1000);
    registry.feedRequest('dr-2', '10.0.0.2', 10)(15);
    await clock.advance(2000);
    registry.feedRequest('dr-2', '10.0.0.2', 15)(20);
    await clock.advance(500);
    const dr1 = registry.list().find((f) => f.id === 'dr-1');
    // Revision 11 was first seen 2.5 s ago.
    expect(dr1).toMatchObject({ lagRevisions: 10, lagSeconds: 2.5, lastSeenSeconds: 3.5 });
    // At 15 it lacks 16..20, first seen at t=3 s.
    registry.feedRequest('dr-1', '10.0.0.1', 15);
    expect(registry.list().find((f) => f.id === 'dr-1')).toMatchObject({
      lagRevisions: 5,
      lagSeconds: 0.5,
      lastSeenSeconds: 0,
      polling: true,
    });
    expect(registry.head).toBe(20);
  });

  it('names an unidentified follower by its address, bounds its size and forgets the silent', async () => {
    const clock = new ManualClock();
    const registry = new FollowerRegistry({ clock, maxEntries: 3, forgetAfterMs: 60_000 });
    registry.feedRequest(FollowerRegistry.idOf(undefined), '10.0.0.9', 0)(0);
    expect(registry.list()).toMatchObject([{ id: 'unnamed@10.0.0.9', identified: false }]);
    // An id that is not a node id is not taken as one.
    expect(FollowerRegistry.idOf('no spaces allowed')).toBeUndefined();
    expect(FollowerRegistry.idOf(['edge-1', 'x'])).toBe('edge-1');
    for (const id of ['a', 'b', 'c']) registry.edgeContact(id, '10.0.0.1', id === 'c');
    // Four seen, three kept: the one seen longest ago made room.
    expect(registry.list().map((f) => f.id)).toEqual(['a', 'b', 'c']);
    expect(registry.list().find((f) => f.id === 'c')?.lastRenewalSeconds).toBe(0);
    await clock.advance(30_000);
    registry.edgeContact('b', '10.0.0.1', false);
    await clock.advance(40_000);
    expect(registry.list().map((f) => f.id)).toEqual(['b']);
    // A replica in a long-poll is never forgotten while its request is open.
    registry.feedRequest('dr-1', '10.0.0.1', 0);
    await clock.advance(120_000);
    expect(registry.list().map((f) => f.id)).toEqual(['dr-1']);
  });
});

describe('the primary knows its followers', () => {
  let primary: TestApp;
  let dir: string | undefined;
  let follower: ReplicaFollower | undefined;
  let replicaStore: SqliteStore | undefined;
  afterEach(async () => {
    await follower?.stop();
    await replicaStore?.close();
    await primary.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const followers = async () => {
    const res = await primary.call({ method: 'GET', url: '/v1/cluster' });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().replication as { head: number; followers: FollowerJson[] };
  };

  it('lists replicas by their feed requests, with lag, in /v1/cluster and /metrics', async () => {
    primary = await makeTestApp();
    expect((await primary.install()).statusCode).toBe(201);
    const created = await primary.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'replica' } });
    const token = created.json().token as string;
    const feed = (after: number, id?: string) =>
      primary.call({
        method: 'GET',
        url: `/v1/replication/changes?after=${after}&wait=0ms`,
        token,
        headers: id === undefined ? {} : { 'leasehold-follower': id },
      });
    const first = await feed(0, 'dr-1');
    expect(first.statusCode, first.body).toBe(200);
    const head = first.json().head as number;
    // An older replica sends no header: it shows by its address.
    expect((await feed(head)).statusCode).toBe(200);
    expect((await feed(head, 'dr-1')).statusCode).toBe(200);
    let view = await followers();
    expect(view.head).toBe(head);
    expect(view.followers).toEqual([
      expect.objectContaining({
        id: 'dr-1',
        role: 'replica',
        identified: true,
        position: head,
        lagRevisions: 0,
      }),
      expect.objectContaining({ id: 'unnamed@127.0.0.1', identified: false, position: head }),
    ]);
    // A change the unnamed one reads and dr-1 does not: dr-1 lags by a revision, for as long as it stays.
    expect((await primary.checkout()).statusCode).toBe(201);
    const next = await feed(head);
    const newHead = next.json().head as number;
    expect(newHead).toBeGreaterThan(head);
    await primary.clock.advance(4000);
    view = await followers();
    expect(view.followers.find((f) => f.id === 'dr-1')).toMatchObject({
      lagRevisions: newHead - head,
      lagSeconds: 4,
      lastSeenSeconds: 4,
      polling: false,
    });
    const metrics = await primary.call({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(`leasehold_follower_lag_revisions{follower="dr-1"} ${newHead - head}`);
    expect(metrics.body).toContain('leasehold_follower_lag_seconds{follower="dr-1"} 4');
    expect(metrics.body).toContain('leasehold_follower_last_seen_seconds{follower="dr-1",role="replica"} 4');
    // A header that is no node id is refused like any malformed input.
    const bad = await feed(head, 'not an id');
    expect(bad.statusCode).toBe(400);
    // Client tokens see nodes but not who follows.
    const client = await primary.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1' },
    });
    const asClient = await primary.call({ method: 'GET', url: '/v1/cluster', token: client.json().token });
    expect(asClient.statusCode).toBe(200);
    expect(asClient.json().replication).toBeUndefined();
  });

  it('a ReplicaFollower names itself over a real socket', async () => {
    primary = await makeTestApp();
    expect((await primary.install()).statusCode).toBe(201);
    const created = await primary.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'replica' } });
    const url = await primary.app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'leasehold-followers-'));
    replicaStore = new SqliteStore({
      path: join(dir, 'replica.db'),
      kek: randomBytes(32),
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
    });
    follower = new ReplicaFollower({
      upstream: new HttpUpstreamFeed({ url, token: created.json().token, follower: 'dr-east' }),
      target: replicaStore,
      clock: systemClock,
      log: { info: () => {}, warn: () => {} },
      waitMs: 1000,
    });
    follower.start();
    await follower.caughtUp();
    const found = await pollUntil(
      async () => (await followers()).followers.find((f) => f.id === 'dr-east' && f.polling),
      { what: 'the replica in its long-poll', timeoutMs: 5000, intervalMs: 20 },
    );
    expect(found).toMatchObject({ role: 'replica', identified: true, position: follower.status().position });
  });

  it('lists edges by their calls, with the blocks they hold', async () => {
    primary = await makeTestApp();
    expect((await primary.install()).statusCode).toBe(201);
    const held = await primary.call({
      method: 'PUT',
      url: '/v1/edge/blocks',
      payload: {
        site: 'edge-a',
        license: 'lic-1',
        feature: 'solver',
        seats: 2,
        holdMs: 60_000,
        requestId: 'r-1',
      },
    });
    expect(held.statusCode, held.body).toBe(200);
    // A block held by a site that never called this node since (another node, or before a restart).
    await primary.store.holdSeatBlock({
      site: 'edge-b',
      licenseId: 'lic-1',
      feature: 'solver',
      seats: 1,
      holdMs: 60_000,
      requestId: 'r-2',
      now: primary.clock.now(),
      newLeaseId: () => crypto.randomUUID(),
      audit: { actor: 'test', node: 'test-node' },
    });
    await primary.clock.advance(2000);
    const sync = await primary.call({
      method: 'GET',
      url: '/v1/edge/licenses/lic-1/tokens',
      headers: { 'leasehold-follower': 'edge-a' },
    });
    expect(sync.statusCode, sync.body).toBe(200);
    const view = await followers();
    expect(view.followers).toEqual([
      expect.objectContaining({
        id: 'edge-a',
        role: 'edge',
        lastSeenSeconds: 0,
        lastRenewalSeconds: 2,
        blocks: [
          expect.objectContaining({ license: 'lic-1', feature: 'solver', seats: 2, heldForMs: 58_000 }),
        ],
      }),
      { id: 'edge-b', role: 'edge', identified: true, blocks: [expect.objectContaining({ seats: 1 })] },
    ]);
    const metrics = await primary.call({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('leasehold_follower_last_seen_seconds{follower="edge-a",role="edge"} 0');
  });
});
