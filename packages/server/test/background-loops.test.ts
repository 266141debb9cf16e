import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@leasehold/domain';
import { LeaseSweeper } from '@leasehold/server/internal';
import type { Membership, NodeRecord } from '@leasehold/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PeerProbe } from '../src/node/peer-probe.js';
import { makeTestApp, type TestApp } from './helpers/test-app.js';
import { makeTestKeeper, silentLog as silent } from './helpers/test-keeper.js';

// Each of a node's background loops runs on the injected clock (a PeriodicTask): a manual clock drives
// it tick by tick, with no real waiting.
describe('background loops on the manual clock', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('the sweeper expires an unrenewed lease at the first tick past its deadline, and stops', async () => {
    expect((await t.install()).statusCode).toBe(201);
    const { id } = (await t.checkout()).json();
    const stored = async () =>
      (await t.store.listLeases({ now: t.clock.now(), includeEnded: true })).find((l) => l.id === id);
    const deadline = (await stored())?.reservedUntil ?? Number.NaN;
    expect(deadline - t.clock.now()).toBeGreaterThan(1000);
    const sweeper = new LeaseSweeper(t.store, t.clock, silent, { intervalMs: 1000, retentionMs: 60_000 });
    sweeper.start();
    await t.clock.advance(deadline - t.clock.now() - 1); // every tick before the deadline leaves it alone
    expect((await stored())?.endReason).toBeUndefined();
    await t.clock.advance(1000); // the next tick is at or past it
    expect((await stored())?.endReason).toBe('expired');
    await sweeper.stop();
    expect(t.clock.pendingTimers).toBe(0);
  });

  it('the audit keeper seals pending records at each seal interval, on the leader only', async () => {
    const archiveDir = mkdtempSync(join(tmpdir(), 'leasehold-archive-'));
    let leading = false;
    const keeper = await makeTestKeeper(t, {
      archiveDir,
      sealIntervalMs: 500,
      checkpointIntervalMs: 60_000,
      isLeader: () => leading,
      signer: () => undefined,
    });
    try {
      expect((await t.install()).statusCode).toBe(201);
      const unsealed = async () => (await t.call({ method: 'GET', url: '/v1/audit/events' })).json().unsealed;
      const pending = await unsealed();
      expect(pending).toBeGreaterThan(0);
      keeper.start();
      await t.clock.advance(1500); // three ticks as a follower: nothing sealed
      expect(await unsealed()).toBe(pending);
      leading = true;
      await t.clock.advance(499);
      expect(await unsealed()).toBe(pending);
      await t.clock.advance(1);
      expect(await unsealed()).toBe(0);
      await keeper.stop();
      expect(t.clock.pendingTimers).toBe(0);
    } finally {
      rmSync(archiveDir, { recursive: true, force: true });
    }
  });
});

describe('peer probe timer', () => {
  it('probes once at start, then once per interval, and never again after stop', async () => {
    const clock = new ManualClock();
    const rounds: number[] = [];
    const membership: Membership = {
      join: async () => undefined,
      leave: async () => undefined,
      clockMargin: async (configuredMs: number) => configuredMs,
      nodes: async () => {
        rounds.push(clock.monotonic());
        const node = (id: string): NodeRecord => ({
          id,
          url: `http://${id}.test:7300`,
          version: 'test',
          startedAt: 0,
          heartbeatAt: 0,
          leads: [],
        });
        return [node('self'), node('peer')];
      },
      storeMembers: async () => [],
      leadership: () => ({ leader: false, fence: undefined }),
    };
    const probe = new PeerProbe({
      membership,
      selfId: 'self',
      clock,
      intervalMs: 1000,
      timeoutMs: 500,
      log: { warn: () => undefined },
      request: async () => clock.now(),
    });
    probe.start();
    probe.start(); // once only
    await clock.advance(3000);
    expect(rounds).toEqual([0, 1000, 2000, 3000]);
    expect(probe.readings().get('peer')).toMatchObject({ clockSkewMs: 0, reachable: true });
    await probe.stop();
    await clock.advance(3000);
    expect(rounds).toHaveLength(4);
  });
});
