import {
  type ClientEvents,
  createClient,
  type Lease,
  type LeaseholdClient,
  verifyLeaseToken,
} from '@leasehold/client';
import { FaultProxy } from '@leasehold/client/testing';
import { pollUntil } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RealCluster, startRealCluster } from '../support/dev-cluster.js';

/**
 * Against a real 3-node cluster on 3 etcd members (separate processes, loopback):
 * 1. answers lost after the request reached a node (a TCP proxy that swallows responses) never cost a
 *    second seat: one lease per request id;
 * 2. SIGKILL of the node a client renews on: renewals go on elsewhere, same lease, no `lost`, and the
 *    application sees nothing but `failover`.
 */
const TTL = 5; // seconds; renewals every ~1.7 s

describe('a client against a real 3-node cluster', () => {
  let real: RealCluster;
  const proxies: FaultProxy[] = [];
  const clients: LeaseholdClient[] = [];

  beforeAll(async () => {
    real = await startRealCluster('failover', { features: { app: { seats: 10 } }, ttl: TTL, grace: 5 });
    for (const url of real.urls) proxies.push(await FaultProxy.start({ target: url }));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(proxies.map((p) => p.close()));
    await real?.stop();
  }, 60_000);

  const client = (clientId: string, options: Partial<Parameters<typeof createClient>[0]> = {}) => {
    const c = createClient({
      servers: real.urls,
      token: real.clientToken,
      vendorKeys: real.vendorKeys,
      clientId,
      timeoutMs: 1000,
      ...options,
    });
    clients.push(c);
    return c;
  };

  it('takes exactly one seat per request id when answers are lost after the node handled the request', async () => {
    // Through the proxies; discovery off, or the client would learn the nodes' own addresses.
    const through = (clientId: string) =>
      client(clientId, { servers: proxies.map((p) => p.url), discovery: false, random: () => 0 });

    // A whole round of lost answers: every node takes the request, none answers; the next round does.
    for (const proxy of proxies) proxy.dropResponses(1);
    const first = through('lost-answers-1');
    const lease = await first.checkout('app', { requestId: 'lost-answers-request-1' });
    expect(proxies.map((p) => p.stats.droppedResponses)).toEqual([1, 1, 1]);
    expect(first.metrics().counters).toMatchObject({ requestFailures: 3, checkouts: 1 });
    expect(lease.requestId).toBe('lost-answers-request-1');
    expect(await real.liveLeasesOf('lost-answers-1')).toEqual([
      expect.objectContaining({ id: lease.id, requestId: 'lost-answers-request-1', state: 'active' }),
    ]);

    // Five more checkouts, each losing its first two answers: still one lease each.
    const dropped = proxies.reduce((sum, p) => sum + p.stats.droppedResponses, 0);
    for (let i = 0; i < 5; i++) {
      const c = through(`lost-answers-${i + 2}`);
      proxies[0]?.dropResponses(1);
      proxies[1]?.dropResponses(1);
      const got = await c.checkout('app');
      const live = await real.liveLeasesOf(`lost-answers-${i + 2}`);
      expect(live.map((l) => l.id)).toEqual([got.id]);
      // A renewal whose answer is lost is retried too, and is still the same lease.
      proxies[0]?.dropResponses(1);
      proxies[1]?.dropResponses(1);
      proxies[2]?.dropResponses(1);
      const fence = got.fence;
      await got.renew();
      expect([got.fence, (await real.liveLeasesOf(`lost-answers-${i + 2}`)).length]).toEqual([fence, 1]);
      await c.close();
    }
    expect(proxies.reduce((sum, p) => sum + p.stats.droppedResponses, 0) - dropped).toBeGreaterThanOrEqual(
      10,
    );
    await first.close();
  }, 60_000);

  it('keeps renewing the same lease on another node when the node in use is SIGKILLed', async () => {
    const c = client('sigkill', { circuitBreaker: { cooldownMs: 500, maxCooldownMs: 2000 } });
    const events: { at: number; event: keyof ClientEvents; server?: string; from?: string }[] = [];
    for (const event of ['renewed', 'failover', 'degraded', 'lost', 'restored', 'replaced'] as const) {
      c.on(event, (payload) =>
        events.push({
          at: Date.now(),
          event,
          server: (payload as { server?: string }).server,
          from: (payload as { from?: string }).from,
        }),
      );
    }
    const lease: Lease = await c.checkout('app');
    const id = lease.id;
    await pollUntil(() => events.some((e) => e.event === 'renewed'), {
      what: 'a first renewal',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    // The cluster gives a client token its node list: discovery stays on and finds the same three nodes.
    await pollUntil(() => c.metrics().discovery === 'on', {
      what: 'discovery to run',
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    expect(new Set(c.servers)).toEqual(new Set(real.urls.map((u) => `${u}/`)));

    // Kill the node that answered the last renewal.
    const using = events.filter((e) => e.event === 'renewed').at(-1)?.server as string;
    const victim = real.cluster.nodes.find((n) => `${n.url}/` === using);
    expect(victim).toBeDefined();
    let unentitledSamples = 0;
    const sampler = setInterval(() => {
      if (!c.isEntitled('app')) unentitledSamples++;
    }, 25);
    const killedAt = Date.now();
    await victim?.kill('SIGKILL');

    // bound 20 s: four renewals on the ~1.7 s schedule are ~6.7 s; the whole test took 9.7-11.3 s (4 runs on
    // 2026-12-06, one beside a CPU-bound process), so this wait took less (under 57% of the bound).
    await pollUntil(() => events.filter((e) => e.event === 'renewed' && e.at > killedAt).length >= 4, {
      what: 'four renewals after the kill',
      timeoutMs: 20_000,
      intervalMs: 20,
    });
    clearInterval(sampler);
    const after = events.filter((e) => e.at > killedAt);
    expect(after.filter((e) => e.event === 'renewed').every((e) => e.server !== using)).toBe(true);
    // The application saw nothing but failover events, all away from the dead node.
    expect(after.filter((e) => e.event !== 'renewed' && e.event !== 'failover')).toEqual([]);
    expect(after.filter((e) => e.event === 'failover').every((e) => e.from === using)).toBe(true);
    expect(unentitledSamples).toBe(0);
    expect(lease.id).toBe(id);
    expect(lease.status).toBe('active');
    const renewedAt = events.filter((e) => e.event === 'renewed').map((e) => e.at);
    const gaps = renewedAt.slice(1).map((t, i) => t - (renewedAt[i] ?? t));
    console.log(
      `sigkill: ${after.filter((e) => e.event === 'failover').length} failover event(s) away from the dead node; ` +
        `${after.filter((e) => e.event === 'renewed').length} renewals since, none on it; longest gap between ` +
        `renewals ${Math.max(...gaps)} ms (schedule ~${Math.round((TTL * 1000) / 3)} ms)`,
    );

    // The cluster agrees: the same lease, active, and its newest token verifies.
    const view = await real.admin<{ id: string; state: string }>('GET', `/v1/leases/${id}`);
    expect(view).toMatchObject({ id, state: 'active' });
    expect((await verifyLeaseToken(lease.token, await c.jwks(), { clientId: 'sigkill' })).jti).toBe(id);

    // The node comes back: a probe of /readyz closes its circuit without any call paying for it. (bound 15 s;
    // the first renewal and discovery waits above, 10 s and 5 s, are due within ~1.7 s; the whole test took
    // 9.7-11.3 s in 4 runs on 2026-12-06.)
    await victim?.start();
    await pollUntil(() => c.metrics().nodes.find((n) => n.url === using)?.circuit === 'closed', {
      what: 'the restarted node to be used again',
      timeoutMs: 15_000,
      intervalMs: 50,
    });
    await lease.release();
    expect(await real.liveLeasesOf('sigkill')).toEqual([]);
  }, 90_000);
});
