import { ManualClock } from '@leasehold/domain';
import type { NodeRecord } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { LiveSnapshots, type LiveSnapshotsOptions } from '../../src/dashboard/live-snapshots.js';
import { NodeRoster } from '../../src/dashboard/node-roster.js';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

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
  /** Snapshots of the test app's store, paced by a manual clock. */
  const snapshots = (t: TestApp, clock: ManualClock, options: Partial<LiveSnapshotsOptions> = {}) =>
    new LiveSnapshots({
      store: t.store,
      membership: undefined,
      nodeId: 'n',
      nodeTtlMs: 3000,
      clock,
      stats: () => null,
      intervalMs: 1000,
      minGapMs: 250,
      maxSubscribers: 2,
      keepDepartedMs: 60_000,
      ...options,
    });

  it('refuses streams over its limit with TOO_MANY_STREAMS, and reports parts it cannot read', async () => {
    const t = await makeTestApp();
    const clock = new ManualClock(T0);
    try {
      const live = snapshots(t, clock);
      const got: unknown[] = [];
      live.subscribe((s) => got.push(s));
      const off = live.subscribe(() => undefined);
      expect(() => live.subscribe(() => undefined)).toThrow(
        expect.objectContaining({ code: 'TOO_MANY_STREAMS' }),
      );
      off();
      expect(live.subscribers).toBe(1);
      await clock.advance(0);
      // One at once, and one more for the second stream: it arrived while the first was being built.
      expect(got).toHaveLength(2);
      expect(got[0]).toMatchObject({ node: 'n', store: 'sqlite', usage: [], problems: [] });
      await t.store.close();
      const broken: { problems: string[] }[] = [];
      live.subscribe((s) => broken.push({ problems: [...s.problems] }));
      await clock.advance(0);
      expect(broken).toHaveLength(1);
      expect(broken[0]?.problems).toEqual(['usage: STORE_UNAVAILABLE']);
      live.close();
      expect(() => live.subscribe(() => undefined)).toThrow(
        expect.objectContaining({ code: 'NODE_SHUTTING_DOWN' }),
      );
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await t.close().catch(() => undefined);
    }
  });

  it('pushes one snapshot at once and one per interval: three intervals, exactly three more', async () => {
    const t = await makeTestApp();
    const clock = new ManualClock(T0);
    try {
      const live = snapshots(t, clock);
      const times: string[] = [];
      const off = live.subscribe((s) => times.push(s.time));
      await clock.advance(0);
      await clock.advance(3000);
      expect(times).toEqual([0, 1000, 2000, 3000].map((ms) => new Date(T0 + ms).toISOString()));
      // The last stream gone, the loop stops: no timer left, no store read.
      off();
      expect(clock.pendingTimers).toBe(0);
      await clock.advance(5000);
      expect(times).toHaveLength(4);
      // A new stream starts it again.
      live.subscribe((s) => times.push(s.time));
      await clock.advance(1000);
      expect(times.slice(4)).toEqual([8000, 9000].map((ms) => new Date(T0 + ms).toISOString()));
      live.close();
    } finally {
      await t.close();
    }
  });

  it('turns a burst of changes into a snapshot at most every minimum gap', async () => {
    const t = await makeTestApp();
    const clock = new ManualClock(T0);
    try {
      const live = snapshots(t, clock, { intervalMs: 60_000, minGapMs: 200 });
      const pushedAt: number[] = [];
      live.subscribe(() => pushedAt.push(clock.monotonic()));
      await clock.advance(0);
      expect(pushedAt).toEqual([0]);
      // A thousand checkouts' worth of changes over 600 ms: fifty every 10 ms.
      for (let ms = 0; ms < 600; ms += 10) {
        for (let i = 0; i < 50; i++) live.changed();
        await clock.advance(10);
      }
      await clock.advance(250);
      // One every 200 ms (plus the first): not one per change.
      expect(pushedAt).toEqual([0, 200, 400, 600]);
      live.close();
    } finally {
      await t.close();
    }
  });
});
