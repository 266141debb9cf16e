import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@leasehold/client';
import { LeaseholdError } from '@leasehold/domain';
import {
  AuditUploader,
  buildApp,
  ClusterKeyring,
  EdgeSync,
  type FetchLike,
  HttpBlockUpstream,
  HttpEdgeSource,
  hashApiToken,
  SeatBlockKeeper,
  UpstreamHttp,
} from '@leasehold/server/internal';
import { SqliteStore } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

const TTL = 3000;

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(LeaseholdError);
  expect((err as LeaseholdError).code).toBe(code);
}

/**
 * An edge site against a primary's real routes (inject, no sockets) on one manual clock: the block held
 * and counted at the primary, the edge's store capped by it, the cut, the heal with a partial grow, a
 * shrink, the license and token copy, and the verified audit upload.
 */
describe('edge site against a primary (inject, manual clock)', () => {
  let primary: TestApp;
  let edgeStore: SqliteStore;
  let clientToken: string;
  let cut: boolean;
  let keeper: SeatBlockKeeper;
  let sync: EdgeSync;
  let uploader: AuditUploader;
  let upstream: HttpBlockUpstream;
  let edgeKeyring: ClusterKeyring;

  beforeEach(async () => {
    primary = await makeTestApp();
    const license = await primary.vendor.issue({
      features: { solver: { seats: 5 } },
      lease: { ttl: 60, grace: 30, policy: 'strict' },
    });
    expect((await primary.install(license)).statusCode).toBe(201);
    const made = await primary.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1' },
    });
    clientToken = made.json().token;
    cut = false;
    // The primary's routes through inject(); a cut link answers nothing.
    const fetch: FetchLike = async (url, init) => {
      if (cut) throw new Error('connect ETIMEDOUT (cut)');
      const res = await primary.app.inject({
        method: init.method as 'GET',
        url: new URL(url).pathname,
        headers: init.headers as Record<string, string>,
        ...(init.body === undefined ? {} : { payload: init.body as string }),
      });
      return new Response(res.body, { status: res.statusCode });
    };
    const http = new UpstreamHttp({
      baseUrl: 'http://primary.test',
      token: clientToken,
      timeoutMs: 500,
      fetch,
    });
    upstream = new HttpBlockUpstream(http);
    edgeStore = new SqliteStore({
      path: join(primary.dataDir, 'edge.db'),
      kek: randomBytes(32),
      node: 'edge-a',
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
      seatCap: { capFor: (l, f, now) => keeper.capFor(l, f, now) },
    });
    keeper = new SeatBlockKeeper({
      site: 'edge-a',
      blocks: [{ licenseId: 'lic-1', feature: 'solver', seats: 2 }],
      blockTtlMs: TTL,
      upstream,
      store: edgeStore,
      clock: primary.clock,
      newId: randomUUID,
    });
    edgeKeyring = await ClusterKeyring.load(edgeStore, primary.clock.now());
    sync = new EdgeSync({
      source: new HttpEdgeSource(http),
      store: edgeStore,
      licenseIds: ['lic-1'],
      licenseKeys: { vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]) },
      clusterId: edgeKeyring.clusterId,
      clock: primary.clock,
      audit: { actor: 'system:edge', node: 'edge-a' },
    });
    uploader = new AuditUploader(
      'edge-a',
      edgeStore,
      upstream,
      join(primary.dataDir, 'edge-audit-head.json'),
    );
  });
  afterEach(async () => {
    await edgeStore.close();
    await primary.close();
  });

  const now = () => primary.clock.now();
  const edgeCheckout = (id: string) =>
    edgeStore.acquireSeat({
      leaseId: randomUUID(),
      requestId: id,
      feature: 'solver',
      client: { id },
      now: now(),
    });
  const primaryCheckout = (id: string) => primary.checkout({ client: { id } }, clientToken);
  const primaryInUse = async () => (await primary.store.seatUsage(now()))[0]?.inUse;

  it('copies the verified license and the client tokens, and grants nothing before the first block', async () => {
    await expectCode(edgeCheckout('e0'), 'FEATURE_NOT_LICENSED');
    await sync.syncOnce();
    expect((await edgeStore.getLicense('lic-1'))?.entitlements).toEqual([{ feature: 'solver', seats: 5 }]);
    expect((await edgeStore.findTokenByHash(hashApiToken(clientToken)))?.licenseId).toBe('lic-1');
    await expectCode(edgeCheckout('e0'), 'SEAT_BLOCK_EXPIRED');
    const tokenId = (await primary.call({ method: 'GET', url: '/v1/tokens' }))
      .json()
      .tokens.find((t: { scope: string }) => t.scope === 'client').id;
    await primary.call({ method: 'DELETE', url: `/v1/tokens/${tokenId}` });
    // A revoked upstream token cannot fetch any more: the edge keeps its copy until the next good sync.
    await expectCode(sync.syncOnce(), 'UNAUTHENTICATED');
  });

  it('holds its block at the primary, lends within it, stops at its deadline through a cut, and grows in part after', async () => {
    await sync.syncOnce();
    await keeper.renewDue();
    expect(await primaryInUse()).toBe(2);
    expect(keeper.status()[0]).toMatchObject({ seats: 2, remainingMs: TTL - TTL / 100 });
    const first = (await edgeCheckout('e1')).lease;
    await edgeCheckout('e2');
    await expectCode(edgeCheckout('e3'), 'SEAT_BLOCK_FULL');
    // No local lease outlives its block, grace included.
    const blockDeadline = (await primary.store.listSeatBlocks(now()))[0]?.heldUntil ?? 0;
    expect(first.reservedUntil).toBeLessThanOrEqual(blockDeadline);
    expect(first.expiresAt + first.graceMs).toBeLessThanOrEqual(first.reservedUntil);
    const primaryLeases: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await primaryCheckout(`p${i}`);
      expect(res.statusCode).toBe(201);
      primaryLeases.push(res.json().id);
    }
    expect((await primaryCheckout('p3')).json().code).toBe('SEATS_EXHAUSTED');

    cut = true;
    await primary.clock.advance(TTL / 3);
    await expectCode(keeper.renewDue(), 'STORE_UNAVAILABLE');
    await edgeStore.releaseSeat({ leaseId: first.id, now: now() });
    await edgeCheckout('e4'); // still inside its block, during the cut
    await primary.clock.advance(TTL - TTL / 3 - 20); // past the edge's deadline (TTL less 1%), before the primary's
    await expectCode(edgeCheckout('e5'), 'SEAT_BLOCK_EXPIRED');
    expect((await primaryCheckout('p4')).json().code).toBe('SEATS_EXHAUSTED');
    await primary.clock.advance(20); // the primary's deadline: the block's seats are the primary's again
    expect((await primaryCheckout('p4')).statusCode).toBe(201);
    expect((await primaryCheckout('p5')).statusCode).toBe(201);
    expect(await primaryInUse()).toBe(5);

    // The link returns with the primary full: the renewal is granted 0 of 2; a seat frees, a grow gets 1.
    cut = false;
    await primary.clock.advance(500);
    await keeper.renewDue();
    expect(keeper.status()[0]).toMatchObject({ wanted: 2, seats: 0 });
    await primary.call({ method: 'DELETE', url: `/v1/leases/${primaryLeases[0]}` });
    await primary.clock.advance(TTL / 3);
    await keeper.renewDue();
    expect(keeper.status()[0]).toMatchObject({ wanted: 2, seats: 1 });
    expect(await primaryInUse()).toBe(5);
    const e6 = (await edgeCheckout('e6')).lease;
    await expectCode(edgeCheckout('e7'), 'SEAT_BLOCK_FULL');

    // A shrink never asks for fewer seats than local leases hold, and gives the rest back at once.
    keeper.setWanted('lic-1', 'solver', 0);
    await keeper.renewDue();
    expect(keeper.status()[0]).toMatchObject({ wanted: 0, seats: 1 });
    expect(await primaryInUse()).toBe(5);
    await edgeStore.releaseSeat({ leaseId: e6.id, now: now() });
    keeper.setWanted('lic-1', 'solver', 0);
    await keeper.renewDue();
    expect(keeper.status()[0]).toMatchObject({ wanted: 0, seats: 0 });
    expect(await primaryInUse()).toBe(4);
  });

  it('installs a license bound to clusters only when the edge, its own cluster, is one of them', async () => {
    const primaryId = (await primary.call({ method: 'GET', url: '/v1/cluster' })).json().clusterId as string;
    const features = { solver: { seats: 5 } };
    const onlyPrimary = await primary.vendor.issue({ ver: 2, features, clusters: [primaryId] });
    expect((await primary.install(onlyPrimary)).statusCode).toBe(201);
    await expectCode(sync.syncOnce(), 'LICENSE_CLUSTER_MISMATCH');
    expect(await edgeStore.getLicense('lic-1')).toBeUndefined();
    const both = await primary.vendor.issue({
      ver: 3,
      features,
      clusters: [primaryId, edgeKeyring.clusterId],
    });
    expect((await primary.install(both)).statusCode).toBe(201);
    await sync.syncOnce();
    expect((await edgeStore.getLicense('lic-1'))?.version).toBe(3);
  });

  it("grants at the edge that an SDK holding the vendor's keys accepts: the chain is the vendor-signed license the edge installed", async () => {
    await sync.syncOnce();
    await keeper.renewDue();
    const licenseKeys = {
      vendorKeys: new Map([[primary.vendor.publicKey.kid, primary.vendor.publicKey]]),
    };
    const edgeApp = await buildApp({
      store: edgeStore,
      clock: primary.clock,
      keyring: edgeKeyring,
      licenseKeys,
      newId: randomUUID,
      nodeId: 'edge-a',
      version: '0.0.0-test',
    });
    const viaEdge: FetchLike = async (url, init) => {
      const target = new URL(url);
      const res = await edgeApp.inject({
        method: init.method as 'GET',
        url: `${target.pathname}${target.search}`,
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        ...(init.body === undefined || init.body === null ? {} : { payload: init.body as string }),
      });
      return new Response(res.body, {
        status: res.statusCode,
        headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') },
      });
    };
    const sdk = createClient({
      servers: ['http://edge.test'],
      token: clientToken,
      clientId: 'machine-1',
      vendorKeys: primary.vendor.publicPem,
      product: 'cad',
      discovery: false,
      retry: { rounds: 1 },
      fetch: viaEdge,
      clock: { now, monotonic: () => primary.clock.monotonic(), setTimer: () => () => undefined },
    });
    try {
      const lease = await sdk.checkout('solver');
      expect(lease.feature).toBe('solver');
      // The edge's lease, capped by its block, with the chain the SDK checked.
      const stored = await edgeStore.getLease(lease.id);
      expect(stored?.client.id).toBe('machine-1');
      const blockDeadline = (await primary.store.listSeatBlocks(now()))[0]?.heldUntil ?? 0;
      expect(stored?.reservedUntil).toBeLessThanOrEqual(blockDeadline);
      expect(await sdk.verify(lease.token)).toMatchObject({ sub: 'machine-1', lic: 'lic-1' });
      await lease.release();
      expect((await edgeStore.getLease(lease.id))?.endReason).toBe('released');
    } finally {
      await sdk.close();
      await edgeApp.close();
    }
  });

  it("uploads the edge's sealed audit entries, which the primary verifies and records; a broken chain is refused whole", async () => {
    await sync.syncOnce();
    await keeper.renewDue();
    const { lease } = await edgeCheckout('e1');
    await edgeStore.releaseSeat({ leaseId: lease.id, now: now() });
    await edgeStore.sealAudit(1000);
    const sealed = await edgeStore.auditEntries({ afterSeq: 0, limit: 1000 });
    expect(await uploader.uploadOnce()).toBe(sealed.length);
    expect(uploader.head.seq).toBe(sealed.length);
    expect(await uploader.uploadOnce()).toBe(0);
    const recorded = (await primary.store.pendingAudit(10_000)).filter((e) => e.action === 'edge.event');
    expect(recorded.map((e) => e.details?.edgeSeq)).toEqual(sealed.map((e) => e.seq));
    expect(recorded.find((e) => e.details?.edgeAction === 'lease.granted')?.subject).toBe(
      `lease:${lease.id}`,
    );

    const [one, two] = sealed;
    if (!one || !two) throw new Error('expected two sealed entries');
    const genesis = { seq: 0, hash: '0'.repeat(64) };
    await expectCode(
      upstream.uploadAudit('edge-a', genesis, [{ ...one, actor: 'someone-else' }, two]),
      'EDGE_AUDIT_CHAIN_BROKEN',
    );
    await expectCode(upstream.uploadAudit('edge-a', genesis, [two]), 'EDGE_AUDIT_CHAIN_BROKEN');
    const after = (await primary.store.pendingAudit(10_000)).filter((e) => e.action === 'edge.event');
    expect(after).toHaveLength(recorded.length);
  });
});
