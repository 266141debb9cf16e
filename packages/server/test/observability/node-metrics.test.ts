import { ManualClock } from '@leasehold/domain';
import { LeaderTracker, NodeMetrics } from '@leasehold/server/internal';
import { SingleNodeMembership, type StoreMember } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';
import { parseExposition, sampleValue } from './exposition.js';

const member = (name: string, leader: boolean, raftTerm: number): StoreMember => ({
  name,
  endpoint: `http://${name}:2379`,
  healthy: true,
  leader,
  raftTerm,
  dbSizeBytes: undefined,
});

describe('LeaderTracker', () => {
  it('counts a new leader or a new term once, and views without a leader as no change', () => {
    const t = new LeaderTracker();
    expect(t.observe([member('a', true, 2), member('b', false, 2)])).toBe(0); // the first view is the baseline
    expect(t.observe([member('a', true, 2), member('b', false, 2)])).toBe(0);
    expect(t.observe([member('a', false, 3), member('b', false, 3)])).toBe(0); // election under way
    expect(t.observe([member('a', false, 3)])).toBe(0);
    expect(t.observe([member('a', false, 3), member('b', true, 3)])).toBe(1);
    expect(t.observe([member('a', false, 5), member('b', true, 5)])).toBe(1); // b re-elected: writes stalled
    expect(t.observe([])).toBe(0);
    expect(t.changes).toBe(2);
  });
});

describe('NodeMetrics', () => {
  let t: TestApp | undefined;
  afterEach(() => t?.close());

  it('a gauge registered again takes the new source: the one-liner for metrics owned elsewhere', async () => {
    const metrics = new NodeMetrics({
      nodeId: 'n1',
      version: '1',
      store: 'sqlite',
      clock: new ManualClock(),
    });
    const skew = new Map([['n2', 250]]);
    metrics.gauge(
      'leasehold_peer_clock_skew_seconds',
      'ignored: the family exists already',
      () => [...skew].map(([peer, ms]) => ({ labels: { peer }, value: ms / 1000 })),
      ['peer'],
    );
    let samples = parseExposition((await metrics.expose()).body);
    expect(sampleValue(samples, 'leasehold_peer_clock_skew_seconds', { peer: 'n2' })).toBe(0.25);
    skew.set('n3', -1500);
    metrics.setAuditSource(async () => ({ headSeq: 42, unsealed: 3 }));
    const failing = metrics.counter('leasehold_test_total', 'A counter from elsewhere.', ['kind']);
    failing.inc({ kind: 'x' }, 2);
    expect(metrics.counter('leasehold_test_total', 'again')).toBe(failing);
    metrics.gauge('leasehold_broken', 'A source that throws.', () => {
      throw new Error('down');
    });
    samples = parseExposition((await metrics.expose()).body);
    expect(sampleValue(samples, 'leasehold_peer_clock_skew_seconds', { peer: 'n3' })).toBe(-1.5);
    expect(sampleValue(samples, 'leasehold_audit_chain_length')).toBe(42);
    expect(sampleValue(samples, 'leasehold_audit_unsealed_events')).toBe(3);
    expect(sampleValue(samples, 'leasehold_test_total', { kind: 'x' })).toBe(2);
    expect(sampleValue(samples, 'leasehold_broken')).toBeUndefined();
  });

  it('reports the cluster from membership and caches store reads between close scrapes', async () => {
    const clock = new ManualClock();
    const membership = new SingleNodeMembership(() => clock.now(), 'sqlite');
    await membership.join({
      id: 'test-node',
      url: 'http://127.0.0.1:1',
      version: '1',
      startedAt: clock.now(),
    });
    t = await makeTestApp({ clock, deps: { membership } });
    // Count the store's usage reads (patched before the first request, which is when the metered
    // store binds the method).
    let reads = 0;
    const seatUsage = t.store.seatUsage.bind(t.store);
    t.store.seatUsage = (now: number) => {
      reads++;
      return seatUsage(now);
    };
    await t.install();
    const scrape = async () =>
      parseExposition((await t!.call({ method: 'GET', url: '/metrics', token: null })).body);
    const before = reads;
    let samples = await scrape();
    expect(reads).toBe(before + 1); // one read for the three seat gauges
    expect(sampleValue(samples, 'leasehold_cluster_nodes')).toBe(1);
    expect(sampleValue(samples, 'leasehold_peer_heartbeat_age_seconds', { node: 'test-node' })).toBe(0);
    expect(sampleValue(samples, 'leasehold_store_members', { state: 'healthy' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_leader_changes_total')).toBe(0);
    expect(sampleValue(samples, 'leasehold_seats_in_use', { feature: 'solver' })).toBe(0);
    await t.checkout();
    samples = await scrape();
    // Within 5 s the usage is served from the cache: a burst of scrapes is one store read.
    expect(reads).toBe(before + 1);
    expect(sampleValue(samples, 'leasehold_seats_in_use', { feature: 'solver' })).toBe(0);
    await clock.advance(5000);
    samples = await scrape();
    expect(reads).toBe(before + 2);
    expect(sampleValue(samples, 'leasehold_seats_in_use', { feature: 'solver' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_peer_heartbeat_age_seconds', { node: 'test-node' })).toBe(0);
  });

  it('with metricsAuth "token", /metrics wants an admin or operator token', async () => {
    t = await makeTestApp({ deps: { metricsScopes: ['admin', 'operator'] } });
    const anonymous = await t.call({ method: 'GET', url: '/metrics', token: null });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe('UNAUTHENTICATED');
    expect((await t.call({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect(t.app.routeTable).toContainEqual({
      method: 'GET',
      url: '/metrics',
      scopes: ['admin', 'operator'],
    });
  });
});
