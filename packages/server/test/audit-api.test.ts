import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAuditFiles } from '@leasehold/domain';
import type { AuditKeeper } from '@leasehold/server/internal';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/test-app.js';
import { makeTestKeeper } from './helpers/test-keeper.js';

describe('audit trail over HTTP', () => {
  let t: TestApp;
  let archiveDir: string;
  let keeper: AuditKeeper;
  beforeEach(async () => {
    t = await makeTestApp();
    archiveDir = mkdtempSync(join(tmpdir(), 'leasehold-archive-'));
    keeper = await makeTestKeeper(t, { archiveDir });
  });
  afterEach(async () => {
    await t.close();
    rmSync(archiveDir, { recursive: true, force: true });
  });

  it('lists sealed events newest first with actor, head and unsealed count', async () => {
    expect((await t.install()).statusCode).toBe(201);
    const token = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1' },
    });
    expect(token.statusCode).toBe(201);
    const lease = await t.checkout({}, token.json().token);
    expect(lease.statusCode).toBe(201);
    const before = (await t.call({ method: 'GET', url: '/v1/audit/events' })).json();
    expect(before.events).toEqual([]);
    expect(before.unsealed).toBe(4); // bootstrap admin token, install, client token, checkout

    await keeper.tick();
    const res = await t.call({ method: 'GET', url: '/v1/audit/events?limit=3' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.unsealed).toBe(0);
    expect(body.head.seq).toBe(4);
    expect(body.events.map((e: { seq: number; action: string }) => [e.seq, e.action])).toEqual([
      [4, 'lease.granted'],
      [3, 'token.created'],
      [2, 'license.installed'],
    ]);
    const adminId = (await t.store.listTokens()).find((k) => k.scope === 'admin')?.id;
    expect(body.events[0]).toMatchObject({
      actor: `client:${token.json().id}`,
      node: 'test-node',
      subject: `lease:${lease.json().id}`,
      time: t.clock.now(),
      details: { license: 'lic-1', feature: 'solver', client: 'client-1' },
    });
    expect(body.events[2].actor).toBe(`admin:${adminId}`);
    const older = (await t.call({ method: 'GET', url: '/v1/audit/events?before=2' })).json();
    expect(older.events.map((e: { action: string }) => e.action)).toEqual(['token.created']);
  });

  it('refuses client tokens and bad queries with coded problems', async () => {
    await t.install();
    const token = (
      await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'client', license: 'lic-1' } })
    ).json();
    const forbidden = await t.call({ method: 'GET', url: '/v1/audit/export', token: token.token });
    expect([forbidden.statusCode, forbidden.json().code]).toEqual([403, 'FORBIDDEN']);
    const bad = await t.call({ method: 'GET', url: '/v1/audit/events?limit=0' });
    expect([bad.statusCode, bad.headers['content-type'], bad.json().code]).toEqual([
      400,
      'application/problem+json; charset=utf-8',
      'VALIDATION_FAILED',
    ]);
    const unknown = await t.call({ method: 'GET', url: '/v1/audit/events?since=3' });
    expect(unknown.json().code).toBe('VALIDATION_FAILED');
  });

  it('exports NDJSON with signed checkpoints that verifies against the JWKS; pending is an unsealed tail', async () => {
    await t.install(await t.vendor.issue({ features: { solver: { seats: 10 } } }));
    for (let i = 0; i < 3; i++) await t.checkout({ client: { id: `c${i}` } });
    await keeper.tick(); // seals and signs a checkpoint of the head
    await t.checkout({ client: { id: 'late' } }); // pending
    const res = await t.call({ method: 'GET', url: '/v1/audit/export' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const types = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type);
    expect(types).toEqual(['anchor', 'entry', 'entry', 'entry', 'entry', 'entry', 'checkpoint', 'pending']);
    const jwks = (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).json();
    const result = await verifyAuditFiles([res.body], { jwks });
    expect(result).toMatchObject({
      ok: true,
      count: 5,
      checkpointsChecked: 1,
      signaturesChecked: true,
      unsealedTail: 1,
    });
  });

  it('archives beyond the live bound into segments that verify with the live export as one chain', async () => {
    const archiving = await makeTestKeeper(t, { archiveDir, maxLiveEntries: 20 });
    await t.install(await t.vendor.issue({ features: { solver: { seats: 100 } } }));
    for (let i = 0; i < 60; i++) await t.checkout({ client: { id: `c${i}` } });
    // A segment a crash left behind before its entries were pruned: superseded, not kept twice.
    writeFileSync(join(archiveDir, 'audit-000000000000001-000000000000040.ndjson'), 'stale\n');
    await archiving.tick();
    const segments = readdirSync(archiveDir).sort();
    expect(segments).toEqual(['audit-000000000000001-000000000000052.ndjson']);
    const status = await t.store.auditStatus();
    expect(status).toMatchObject({ head: { seq: 62 }, anchor: { seq: 52 }, unsealed: 0 });
    // The checkpoint that signs the new anchor stays in the store; the one at the head was signed too.
    expect((await t.store.listAuditCheckpoints()).map((c) => c.seq)).toEqual([52, 62]);
    const jwks = (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).json();
    const live = (await t.call({ method: 'GET', url: '/v1/audit/export' })).body;
    expect(JSON.parse(live.split('\n')[0] as string)).toMatchObject({
      type: 'anchor',
      seq: 52,
      jws: expect.any(String),
    });
    const segment = readFileSync(join(archiveDir, segments[0] as string), 'utf8');
    await expect(verifyAuditFiles([live, segment], { jwks })).resolves.toMatchObject({
      ok: true,
      count: 62,
      partial: false,
      checkpointsChecked: 2,
    });
    await expect(verifyAuditFiles([live], { jwks })).resolves.toMatchObject({
      ok: false,
      problem: { kind: 'history-missing' },
    });
    await expect(verifyAuditFiles([live], { jwks, allowPartial: true })).resolves.toMatchObject({
      ok: true,
      count: 10,
      partial: true,
    });
    // The events page reads only the live part.
    const page = (await t.call({ method: 'GET', url: '/v1/audit/events?limit=1000' })).json();
    expect(page.events).toHaveLength(10);
  });

  it('archives a segment larger than one read page by page (one read of all was over gRPC 4 MiB on etcd)', async () => {
    const archiving = await makeTestKeeper(t, { archiveDir, maxLiveEntries: 2000 });
    await t.install(await t.vendor.issue({ features: { solver: { seats: 3000 } } }));
    for (let i = 0; i < 2600; i++) await t.checkout({ client: { id: `c${i}` } });
    const reads = vi.spyOn(t.store, 'auditEntries');
    await archiving.tick();
    // 2,602 sealed entries, archived down to 1,000 live: 1..1602, read 1,000 at a time at most.
    expect(readdirSync(archiveDir)).toEqual(['audit-000000000000001-000000000001602.ndjson']);
    expect(Math.max(...reads.mock.calls.map(([q]) => q.limit ?? Number.POSITIVE_INFINITY))).toBe(1000);
    expect((await t.store.auditStatus()).anchor.seq).toBe(1602);
    const jwks = (await t.call({ method: 'GET', url: '/.well-known/jwks.json', token: null })).json();
    const live = (await t.call({ method: 'GET', url: '/v1/audit/export' })).body;
    const segment = readFileSync(join(archiveDir, 'audit-000000000000001-000000000001602.ndjson'), 'utf8');
    expect(segment.trim().split('\n')).toHaveLength(1 + 1602 + 1); // anchor, entries, the checkpoint at 1602
    await expect(verifyAuditFiles([live, segment], { jwks })).resolves.toMatchObject({
      ok: true,
      count: 2602,
      partial: false,
    });
  }, 30_000);

  it('finishes an archival interrupted between batches (etcd), from the segment it had written', async () => {
    const archiving = await makeTestKeeper(t, { archiveDir, maxLiveEntries: 20 });
    await t.install(await t.vendor.issue({ features: { solver: { seats: 100 } } }));
    for (let i = 0; i < 60; i++) await t.checkout({ client: { id: `c${i}` } });
    await archiving.sealAll();
    // What a crash after the first etcd batch leaves: the segment through 52 written, the anchor moved
    // only to 30 (no checkpoint there), entries 31..52 still in the store.
    const segment = join(archiveDir, 'audit-000000000000001-000000000000052.ndjson');
    writeFileSync(segment, 'a complete segment\n');
    await t.store.pruneAudit(30);
    expect((await t.store.auditStatus()).anchor.seq).toBe(30);
    await archiving.tick();
    expect((await t.store.auditStatus()).anchor.seq).toBe(52);
    expect(readFileSync(segment, 'utf8')).toBe('a complete segment\n');
  });

  it('does not archive before the cluster key can sign the new anchor', async () => {
    const unsigned = await makeTestKeeper(t, { archiveDir, maxLiveEntries: 20, signer: () => undefined });
    await t.install(await t.vendor.issue({ features: { solver: { seats: 100 } } }));
    for (let i = 0; i < 30; i++) await t.checkout({ client: { id: `c${i}` } });
    await unsigned.tick();
    expect(await t.store.auditStatus()).toMatchObject({ head: { seq: 32 }, anchor: { seq: 0 } });
    expect(readdirSync(archiveDir)).toEqual([]);
  });
});
