import { randomUUID } from 'node:crypto';
import { type AuditContext, type AuditEvent, GENESIS_HEAD, verifyChain } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, DAY, license, T0 } from './fixtures.js';
import { expectCode, type StoreFactory } from './lease-store-contract.js';

const admin: AuditContext = { actor: 'admin:tok-a', node: 'node-1' };
const app: AuditContext = { actor: 'client:tok-c', node: 'node-2' };

/** Pending events, oldest first (what sealing will append, in this order). */
async function pending(
  store: LeaseStore,
): Promise<Pick<AuditEvent, 'action' | 'actor' | 'subject' | 'node'>[]> {
  return (await store.pendingAudit(10_000)).map(({ action, actor, subject, node }) => ({
    action,
    actor,
    subject,
    node,
  }));
}

/**
 * The audit part of the store contract: every state change writes its pending record in the same atomic
 * operation (a failed change writes none, a replay writes none), and sealing appends them in commit order
 * to a chain that verifies.
 */
export function describeAuditContract(backend: string, open: StoreFactory): void {
  describe(`LeaseStore audit contract: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const checkout = (requestId: string, clientId = 'c1', now = T0) =>
      store.acquireSeat({
        leaseId: randomUUID(),
        requestId,
        feature: 'solver',
        client: client(clientId),
        now,
        audit: app,
      });

    it('records every change with actor, action, subject, time and node — and nothing for replays', async () => {
      expect(await store.auditStatus()).toEqual({ head: GENESIS_HEAD, anchor: GENESIS_HEAD, unsealed: 0 });
      const v1 = await license();
      await store.installLicense(v1, T0, admin);
      await store.installLicense(v1, T0, admin); // unchanged: no record
      await store.installLicense(await license({ version: 2 }), T0 + 1, admin);
      const first = await checkout('r1');
      await checkout('r1'); // replay: no record
      const second = await checkout('r2', 'c2');
      const third = await checkout('r3', 'c3');
      await store.releaseSeat({ leaseId: first.lease.id, now: T0 + 10, audit: app });
      await store.releaseSeat({ leaseId: first.lease.id, now: T0 + 11, audit: app }); // already ended
      await store.forceRelease({ leaseId: second.lease.id, now: T0 + 20, immediate: false, audit: admin });
      await store.forceRelease({ leaseId: third.lease.id, now: T0 + 21, immediate: true, audit: admin });
      const sweeper = { actor: 'system:sweeper', node: 'node-3' };
      expect(await store.expireLeases(T0 + DAY, 10, sweeper)).toHaveLength(1); // the soft-released one
      await store.createToken(
        {
          id: 't1',
          hash: 'h'.repeat(64),
          scope: 'client',
          licenseId: 'lic-1',
          name: undefined,
          createdAt: T0,
          revokedAt: undefined,
        },
        admin,
      );
      await store.revokeToken('t1', T0 + 1, admin);
      await store.revokeToken('t1', T0 + 2, admin); // already revoked
      await store.revokeLicense('lic-1', T0 + 3, admin);
      await store.revokeLicense('lic-1', T0 + 4, admin); // already revoked
      await store.recordAudit({
        action: 'node.joined',
        actor: 'system',
        subject: 'node:n9',
        time: T0,
        node: 'n9',
      });

      expect(await pending(store)).toEqual([
        { action: 'license.installed', actor: admin.actor, subject: 'license:lic-1', node: 'node-1' },
        { action: 'license.upgraded', actor: admin.actor, subject: 'license:lic-1', node: 'node-1' },
        { action: 'lease.granted', actor: app.actor, subject: `lease:${first.lease.id}`, node: 'node-2' },
        { action: 'lease.granted', actor: app.actor, subject: `lease:${second.lease.id}`, node: 'node-2' },
        { action: 'lease.granted', actor: app.actor, subject: `lease:${third.lease.id}`, node: 'node-2' },
        { action: 'lease.released', actor: app.actor, subject: `lease:${first.lease.id}`, node: 'node-2' },
        {
          action: 'lease.force-released',
          actor: admin.actor,
          subject: `lease:${second.lease.id}`,
          node: 'node-1',
        },
        {
          action: 'lease.force-released',
          actor: admin.actor,
          subject: `lease:${third.lease.id}`,
          node: 'node-1',
        },
        {
          action: 'lease.expired',
          actor: 'system:sweeper',
          subject: `lease:${second.lease.id}`,
          node: 'node-3',
        },
        { action: 'token.created', actor: admin.actor, subject: 'token:t1', node: 'node-1' },
        { action: 'token.revoked', actor: admin.actor, subject: 'token:t1', node: 'node-1' },
        { action: 'license.revoked', actor: admin.actor, subject: 'license:lic-1', node: 'node-1' },
        { action: 'node.joined', actor: 'system', subject: 'node:n9', node: 'n9' },
      ]);
      const [granted] = (await store.pendingAudit(10)).filter((e) => e.action === 'lease.granted');
      expect(granted).toMatchObject({
        time: T0,
        details: { license: 'lic-1', feature: 'solver', slot: first.lease.slot, client: 'c1' },
      });
    });

    it('a failed change writes no record', async () => {
      await expectCode(store.revokeLicense('nope', T0, admin), 'LICENSE_NOT_FOUND');
      await expectCode(checkout('r0'), 'FEATURE_NOT_LICENSED');
      await store.installLicense(await license({ seats: { solver: 1 } }), T0, admin);
      await checkout('r1');
      await expectCode(checkout('r2', 'c2'), 'SEATS_EXHAUSTED');
      await expectCode(store.releaseSeat({ leaseId: 'nope', now: T0, audit: app }), 'LEASE_NOT_FOUND');
      await expectCode(store.revokeToken('nope', T0, admin), 'TOKEN_NOT_FOUND');
      expect((await pending(store)).map((e) => e.action)).toEqual(['license.installed', 'lease.granted']);
    });

    it('seals pending records in commit order into a chain that verifies, across many batches', async () => {
      await store.installLicense(await license({ seats: { solver: 500 } }), T0, admin);
      const leases = [];
      for (let i = 0; i < 150; i++) leases.push((await checkout(`r${i}`, `c${i}`)).lease);
      for (const lease of leases.slice(0, 40))
        await store.releaseSeat({ leaseId: lease.id, now: T0 + 5, audit: app });
      const expected = (await pending(store)).map((e) => e.subject);
      expect(expected).toHaveLength(191);

      const firstSeal = await store.sealAudit(100);
      expect(firstSeal.sealed).toBe(100);
      expect(firstSeal.head.seq).toBe(100);
      // Changes made between seals land after the ones already sealed.
      await store.releaseSeat({ leaseId: (leases[100] ?? leases[0])!.id, now: T0 + 6, audit: app });
      const rest = await store.sealAudit(1000);
      expect(rest.sealed).toBe(92);
      expect(await store.sealAudit(1000)).toEqual({ sealed: 0, head: rest.head });

      const entries = await store.auditEntries({ afterSeq: 0, limit: 10_000 });
      expect(entries.map((e) => e.subject)).toEqual([...expected, `lease:${leases[100]?.id}`]);
      expect(verifyChain({ entries })).toMatchObject({ ok: true, count: 192, head: rest.head });
      expect(await store.auditStatus()).toEqual({ head: rest.head, anchor: GENESIS_HEAD, unsealed: 0 });

      // Newest first, paged by seq.
      const page = await store.auditEntries({ beforeSeq: 192, limit: 3 });
      expect(page.map((e) => e.seq)).toEqual([191, 190, 189]);
      expect((await store.auditEntries({ afterSeq: 190, limit: 10 })).map((e) => e.seq)).toEqual([191, 192]);
    });

    it('keeps checkpoints, and archives the oldest entries behind an anchor that still verifies', async () => {
      await store.installLicense(await license({ seats: { solver: 300 } }), T0, admin);
      for (let i = 0; i < 250; i++) await checkout(`r${i}`, `c${i}`);
      const { head } = await store.sealAudit(1000);
      expect(head.seq).toBe(251);
      const checkpoint = { seq: head.seq, hash: head.hash, time: T0, node: 'node-1', jws: 'x.y.z' };
      await store.saveAuditCheckpoint(checkpoint);
      await store.saveAuditCheckpoint({ ...checkpoint, jws: 'other' }); // never replaced
      expect(await store.listAuditCheckpoints()).toEqual([checkpoint]);
      const early = { seq: 100, hash: 'h'.repeat(64), time: T0, node: 'node-1', jws: 'a.b.c' };
      await store.saveAuditCheckpoint(early);
      expect(await store.listAuditCheckpoints()).toEqual([early, checkpoint]);

      const all = await store.auditEntries({ afterSeq: 0, limit: 1000 });
      const anchor = await store.pruneAudit(230);
      // Checkpoints inside the archived range leave with it (into the segment); the later one stays.
      expect(await store.listAuditCheckpoints()).toEqual([checkpoint]);
      expect(anchor).toEqual({ seq: 230, hash: all[229]?.hash });
      const live = await store.auditEntries({ afterSeq: 0, limit: 1000 });
      expect(live.map((e) => e.seq)).toEqual(all.slice(230).map((e) => e.seq));
      expect(await store.auditStatus()).toMatchObject({ head, anchor });
      expect(verifyChain({ entries: live, anchor, checkpoints: [head] })).toMatchObject({
        ok: true,
        count: 21,
      });
      expect(await store.pruneAudit(100)).toEqual(anchor); // behind the anchor: nothing to do
      // New entries continue the chain after archival.
      await checkout('late', 'c-late');
      const next = await store.sealAudit(10);
      expect(next.head.seq).toBe(252);
      expect(
        verifyChain({ entries: await store.auditEntries({ afterSeq: 0, limit: 1000 }), anchor }).ok,
      ).toBe(true);
    });
  });
}
