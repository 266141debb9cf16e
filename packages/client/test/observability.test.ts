import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { COUNTER_NAMES, DIAGNOSTICS_CHANNELS } from '@leasehold/client';
import { afterEach, describe, expect, it } from 'vitest';
import { harness } from './support/harness.js';

const subscriptions: [string, (message: unknown) => void][] = [];
function listen(channel: string): unknown[] {
  const messages: unknown[] = [];
  const handler = (message: unknown) => messages.push(message);
  subscribe(channel, handler);
  subscriptions.push([channel, handler]);
  return messages;
}
afterEach(() => {
  for (const [channel, handler] of subscriptions.splice(0)) unsubscribe(channel, handler);
});

/** A logger that keeps every line. */
function memoryLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('observability', () => {
  it('publishes requests, failovers, lease events and circuit changes on diagnostics channels', async () => {
    const requests = listen(DIAGNOSTICS_CHANNELS.request);
    const failovers = listen(DIAGNOSTICS_CHANNELS.failover);
    const leases = listen(DIAGNOSTICS_CHANNELS.lease);
    const circuits = listen(DIAGNOSTICS_CHANNELS.circuit);
    const h = await harness({ nodes: 2, ttlSeconds: 60, graceSeconds: 10 });
    const lease = await h.clock.run(h.client.checkout('app'));
    const used = h.cluster.requests[0]?.node as string;
    h.cluster.node(used).mode = 'down';
    await h.clock.advance(20_000);
    h.cluster.setAllModes('down');
    await h.clock.advance(80_000); // the token from 20 s expires at 80 s, its grace ends at 90 s
    await h.clock.run(lease.release()).catch(() => undefined);

    expect(requests[0]).toMatchObject({ server: `${used}/`, method: 'POST', path: 'v1/leases' });
    expect(requests.some((r) => (r as { error?: { code: string } }).error?.code === 'NETWORK_ERROR')).toBe(
      true,
    );
    expect(failovers[0]).toMatchObject({ from: `${used}/`, operation: 'renew', lease: lease.id });
    expect(leases.map((m) => (m as { event: string }).event)).toEqual([
      'checkout',
      'renewed',
      'degraded',
      'lost',
    ]);
    expect(leases[0]).toMatchObject({ lease: { id: lease.id, feature: 'app' } });
    expect(JSON.stringify(leases)).not.toContain(lease.token); // tokens never leave through diagnostics
    expect(circuits[0]).toMatchObject({ server: `${used}/`, state: 'open' });
  });

  it('counts what happens, for export', async () => {
    const h = await harness({ nodes: 2, ttlSeconds: 60, graceSeconds: 10 });
    const lease = await h.clock.run(h.client.checkout('app'));
    await h.clock.advance(40_000); // two renewals; the second's token expires at 100 s, its grace at 110 s
    h.cluster.setAllModes('down');
    await h.clock.advance(80_000); // degraded at 60 s, lost at 110 s
    h.cluster.setAllModes('up');
    await h.clock.advance(31_000); // restored with a new lease
    await lease.release();
    const { counters, leases, nodes, discovery } = h.client.metrics();
    expect(Object.keys(counters).sort()).toEqual([...COUNTER_NAMES].sort());
    expect(counters).toMatchObject({
      checkouts: 2,
      releases: 1,
      leasesDegraded: 1,
      leasesLost: 1,
      leasesRestored: 1,
      leasesReplaced: 1,
      jwksFetches: 1,
      tokensRejected: 0,
    });
    expect(counters.renewals).toBe(h.events.filter((e) => e.event === 'renewed').length);
    expect(counters.renewals).toBeGreaterThanOrEqual(2);
    expect(counters.tokensVerified).toBe(counters.checkouts + counters.renewals);
    expect(counters.renewalFailures).toBeGreaterThan(0);
    expect(counters.requests).toBe(
      h.cluster.requests.filter((r) => r.path.startsWith('/v1/')).length + counters.requestFailures,
    );
    expect(leases).toEqual({ active: 0, degraded: 0, lost: 0 });
    expect(nodes.map((n) => n.url)).toEqual(h.cluster.urls.map((u) => `${u}/`));
    expect(discovery).toBe('off');
  });

  it('logs through the given logger, and a throwing listener breaks nothing', async () => {
    const { lines, logger } = memoryLogger();
    const h = await harness({ ttlSeconds: 60, graceSeconds: 10 }, { logger });
    const lease = await h.clock.run(h.client.checkout('app'));
    let calls = 0;
    lease.on('renewed', () => {
      calls++;
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    lease.on('renewed', () => seen.push('second listener'));
    h.cluster.setAllModes('hang');
    await h.clock.advance(30_000); // the renewal at 20 s fails at 29 s: degraded
    h.cluster.setAllModes('up');
    await h.clock.advance(40_000);
    expect(calls).toBeGreaterThan(0);
    expect(seen.length).toBe(calls);
    expect(lease.status).toBe('active');
    const messages = lines.map((l) => `${l.level} ${l.message}`);
    expect(messages).toContain('info seat checked out');
    expect(messages).toContain('warn lease degraded: no node answers');
    expect(messages).toContain('info lease restored');
    expect(messages).toContain('error a lease event listener threw');
    expect(lines.every((l) => l.fields.component === 'leasehold-client')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(h.cluster.token); // the bearer token is never logged
  });

  it('survives a logger that throws', async () => {
    const broken = {
      info: () => {
        throw new Error('disk full');
      },
    };
    const h = await harness({}, { logger: broken });
    const lease = await h.clock.run(h.client.checkout('app'));
    expect(lease.status).toBe('active');
  });
});
