import { randomBytes, randomUUID } from 'node:crypto';
import { ManualClock } from '@leasehold/domain';
import { EtcdMembership, EtcdStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { etcdEndpoints } from './support/etcd.js';
import { testMembership } from './support/test-membership.js';

const T0 = Date.UTC(2026, 0, 1);
let endpoints: string[];
const stores: EtcdStore[] = [];
beforeAll(async () => {
  endpoints = await etcdEndpoints();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

/** One node's membership on its own manual clock: its heartbeats happen only when the test moves it. */
function member(prefix: string) {
  const store = new EtcdStore({
    endpoints,
    prefix,
    kek: randomBytes(32),
    licenseKeys: { vendorKeys: new Map() },
  });
  stores.push(store);
  const clock = new ManualClock(T0);
  const membership = testMembership(store, endpoints, clock);
  return { clock, membership };
}

const announce = (id: string) => ({ id, url: `http://${id}.test:7300`, version: 'test', startedAt: T0 });

describe('etcd membership heartbeat on the injected clock', () => {
  it('heartbeats once per interval of its clock; a graceful leave hands leadership to the next heartbeat', async () => {
    const prefix = `/membership-${randomUUID()}/`;
    const a = member(prefix);
    const b = member(prefix);
    await a.membership.join(announce('a'));
    await b.membership.join(announce('b'));
    expect(a.membership.leadership('sweeper').leader).toBe(true);
    expect(b.membership.leadership('sweeper').leader).toBe(false);
    const beatOf = async (id: string) => (await a.membership.nodes()).find((n) => n.id === id)?.heartbeatAt;
    expect(await beatOf('a')).toBe(T0);
    expect(a.clock.pendingTimers).toBe(1);

    // Its clock moves three intervals: three heartbeats, each finished before the next (etcd is real, so
    // each one's write is waited for, and then the rest of its run: a tick that comes while a heartbeat
    // is still running is skipped — CI caught this test advancing before a slow run had ended).
    for (const at of [1000, 2000, 3000]) {
      await a.clock.advance(1000);
      await vi.waitFor(async () => expect(await beatOf('a')).toBe(T0 + at), { timeout: 5000 });
      await a.membership.heartbeatSettled();
    }
    expect(await beatOf('b')).toBe(T0); // b's clock has not moved: no heartbeat of its own
    expect((await a.membership.nodes()).find((n) => n.id === 'a')?.leads).toEqual(['sweeper']);

    await a.membership.leave();
    expect(a.clock.pendingTimers).toBe(0);
    expect((await b.membership.nodes()).map((n) => n.id)).toEqual(['b']);
    // The election key went with a's etcd lease: b wins it at its next heartbeat.
    await b.membership.heartbeatSettled();
    await b.clock.advance(1000);
    await vi.waitFor(() => expect(b.membership.leadership('sweeper').leader).toBe(true), { timeout: 5000 });
    await b.membership.leave();
    expect(b.clock.pendingTimers).toBe(0);
  });
});
