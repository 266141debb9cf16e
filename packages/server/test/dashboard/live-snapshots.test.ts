import type { NodeRecord } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { LiveSnapshots } from '../../src/dashboard/live-snapshots.js';
import { NodeRoster } from '../../src/dashboard/node-roster.js';
import { makeTestApp } from '../helpers/test-app.js';

const T0 = Date.UTC(2026, 0, 1);
const record = (id: string, heartbeatAt: number, leads: string[] = []): NodeRecord => ({
  id,
  url: `http://127.0.0.1/${id}`,
  version: '1.0.0',
  startedAt: T0 - 60_000,
  heartbeatAt,
  leads,
});

describe('NodeRoster', () => {
  it('keeps a node that left the cluster as down, ageing, until it is forgotten', () => {
    const roster = new NodeRoster('a', 3000, 60_000);
    const both = roster.update([record('a', T0, ['sweeper']), record('b', T0 - 500)], T0);
    expect(both.map((n) => [n.id, n.healthy, n.role, n.departed])).toEqual([
      ['a', true, 'leader', false],
      ['b', true, 'follower', false],
    ]);
    // b's heartbeat lease ran out: membership no longer lists it.
    const later = roster.update([record('a', T0 + 4000, ['sweeper'])], T0 + 4000);
    expect(later.find((n) => n.id === 'b')).toMatchObject({
      healthy: false,
      departed: true,
      role: null,
      heartbeatAgeMs: 4500,
    });
    expect(roster.update([record('a', T0 + 70_000)], T0 + 70_000).map((n) => n.id)).toEqual(['a']);
  });

  it('marks a listed node down once its heartbeat is as old as the TTL', () => {
    const roster = new NodeRoster('a', 3000, 60_000);
    expect(roster.update([record('b', T0)], T0 + 2999)[0]?.healthy).toBe(true);
    expect(roster.update([record('b', T0)], T0 + 3000)[0]).toMatchObject({ healthy: false, departed: false });
  });

  it('ages every remembered node when the node list cannot be read', () => {
    const roster = new NodeRoster('a', 3000, 60_000);
    roster.update([record('a', T0), record('b', T0)], T0);
    const blind = roster.update(undefined, T0 + 5000);
    expect(blind.map((n) => [n.id, n.healthy, n.departed, n.heartbeatAgeMs])).toEqual([
      ['a', false, false, 5000],
      ['b', false, false, 5000],
    ]);
  });
});

describe('LiveSnapshots', () => {
  it('refuses streams over its limit with TOO_MANY_STREAMS, and reports parts it cannot read', async () => {
    const t = await makeTestApp();
    const store = t.store;
    try {
      const live = new LiveSnapshots({
        store,
        membership: undefined,
        nodeId: 'n',
        nodeTtlMs: 3000,
        now: () => T0,
        stats: () => null,
        intervalMs: 1000,
        minGapMs: 250,
        monotonic: () => performance.now(),
        maxSubscribers: 2,
        keepDepartedMs: 60_000,
      });
      const got: unknown[] = [];
      live.subscribe((s) => got.push(s));
      const off = live.subscribe(() => undefined);
      expect(() => live.subscribe(() => undefined)).toThrow(
        expect.objectContaining({ code: 'TOO_MANY_STREAMS' }),
      );
      off();
      expect(live.subscribers).toBe(1);
      await expect.poll(() => got.length).toBeGreaterThan(0);
      expect(got[0]).toMatchObject({ node: 'n', store: 'sqlite', usage: [], problems: [] });
      await store.close();
      const broken: { problems: string[] }[] = [];
      live.subscribe((s) => broken.push({ problems: [...s.problems] }));
      await expect.poll(() => broken.length).toBeGreaterThan(0);
      expect(broken[0]?.problems).toEqual(['usage: STORE_UNAVAILABLE']);
      live.close();
      expect(() => live.subscribe(() => undefined)).toThrow(
        expect.objectContaining({ code: 'NODE_SHUTTING_DOWN' }),
      );
    } finally {
      await t.close().catch(() => undefined);
    }
  });

  it('turns a burst of changes into a snapshot at most every minimum gap', async () => {
    const t = await makeTestApp();
    try {
      const live = new LiveSnapshots({
        store: t.store,
        membership: undefined,
        nodeId: 'n',
        nodeTtlMs: 3000,
        now: () => T0,
        stats: () => null,
        intervalMs: 60_000,
        minGapMs: 200,
        monotonic: () => performance.now(),
        maxSubscribers: 2,
        keepDepartedMs: 60_000,
      });
      let pushed = 0;
      live.subscribe(() => pushed++);
      await expect.poll(() => pushed).toBe(1);
      const start = performance.now();
      // A thousand checkouts' worth of changes over ~600 ms.
      while (performance.now() - start < 600) {
        for (let i = 0; i < 50; i++) live.changed();
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 250));
      // One every 200 ms at most (plus the first): not one per change.
      expect(pushed).toBeGreaterThanOrEqual(3);
      expect(pushed).toBeLessThanOrEqual(5);
      live.close();
    } finally {
      await t.close();
    }
  });
});
