import { describe, expect, it } from 'vitest';
import { Balancer, type BalancerOptions } from '../src/transport/balancer.js';
import { CircuitBreaker } from '../src/transport/circuit-breaker.js';

const [A, B, C] = ['http://a.test/', 'http://b.test/', 'http://c.test/'];
const policy = { failures: 1, cooldownMs: 1000, maxCooldownMs: 4000 };

/** A balancer on a hand-moved monotonic clock and a scripted random source. */
function balancer(servers: string[], extra: Partial<BalancerOptions> = {}) {
  let now = 0;
  const randoms: number[] = [];
  const probes: string[] = [];
  const circuits: string[] = [];
  const b = new Balancer(servers, {
    random: () => randoms.shift() ?? 0,
    monotonic: () => now,
    breaker: policy,
    probe: async (server) => {
      probes.push(server);
      return false;
    },
    onCircuit: (server, state) => circuits.push(`${server} ${state}`),
    ...extra,
  });
  /** One attempt taking `ms` with the given outcome. */
  const attempt = (server: string, ms: number, outcome: 'success' | 'failure' | 'answered') => {
    const end = b.begin(server);
    now += ms;
    end(outcome);
  };
  return {
    b,
    randoms,
    probes,
    circuits,
    attempt,
    tick: (ms: number) => {
      now += ms;
    },
  };
}

describe('power of two choices over latency and load', () => {
  it('picks the faster of the two random candidates', () => {
    const t = balancer([A, B, C]);
    t.attempt(A, 50, 'success');
    t.attempt(B, 5, 'success');
    t.attempt(C, 20, 'success');
    t.randoms.push(0, 0); // candidates A and B
    expect(t.b.pick(new Set())).toBe(B);
    t.randoms.push(0, 0.99); // candidates A and C
    expect(t.b.pick(new Set())).toBe(C);
  });

  it('weighs outstanding requests: a fast node already busy loses to an idle one', () => {
    const t = balancer([A, B]);
    t.attempt(A, 10, 'success');
    t.attempt(B, 15, 'success');
    const ends = [t.b.begin(A), t.b.begin(A)]; // two calls in flight on A: cost (10+1)×3 > (15+1)×1
    t.randoms.push(0, 0);
    expect(t.b.pick(new Set())).toBe(B);
    for (const end of ends) end('success');
  });

  it('moves the latency average towards new samples (EWMA)', () => {
    const t = balancer([A]);
    t.attempt(A, 100, 'success');
    t.attempt(A, 0, 'success');
    expect(t.b.snapshot()[0]?.latencyMs).toBe(70); // 100 + 0.3 × (0 − 100)
  });

  it('costs a node never measured at the average of the others, so it gets tried', () => {
    const t = balancer([A, B, C]);
    t.attempt(A, 10, 'success');
    t.attempt(B, 30, 'success');
    t.randoms.push(0, 0.99); // A (10) against C (unmeasured: 20)
    expect(t.b.pick(new Set())).toBe(A);
    t.randoms.push(0.5, 0.99); // B (30) against C (20)
    expect(t.b.pick(new Set())).toBe(C);
  });

  it('never picks an excluded node, and says when none is left', () => {
    const t = balancer([A, B]);
    expect(t.b.pick(new Set([A]))).toBe(B);
    expect(t.b.pick(new Set([A, B]))).toBeUndefined();
  });
});

describe('circuit breakers', () => {
  it('opens on a retryable failure, probes /readyz in the background after the cool-down, and closes', async () => {
    let ready = false;
    const t = balancer([A, B], {
      probe: async () => ready,
    });
    t.attempt(A, 1, 'failure');
    expect(t.b.snapshot().map((n) => n.circuit)).toEqual(['open', 'closed']);
    for (let i = 0; i < 5; i++) expect(t.b.pick(new Set())).toBe(B);
    t.tick(1000);
    expect(t.b.pick(new Set())).toBe(B); // the pick starts a probe of A; calls still go to B
    expect(t.b.snapshot()[0]?.circuit).toBe('half-open');
    await Promise.resolve();
    expect(t.b.snapshot()[0]?.circuit).toBe('open'); // not ready yet
    ready = true;
    t.tick(2000); // the cool-down doubled
    t.b.pick(new Set());
    await Promise.resolve();
    expect(t.b.snapshot()[0]?.circuit).toBe('closed');
    expect(t.circuits).toEqual([`${A} open`, `${A} half-open`, `${A} open`, `${A} half-open`, `${A} closed`]);
  });

  it('doubles the cool-down after each failed probe, up to its bound', () => {
    const breaker = new CircuitBreaker(policy);
    breaker.failure(0);
    const dues: number[] = [];
    let now = 0;
    for (let i = 0; i < 4; i++) {
      const wait = breaker.reopensIn(now);
      dues.push(wait);
      now += wait;
      expect(breaker.probeDue(now)).toBe(true);
      breaker.beginProbe();
      expect(breaker.probeDue(now)).toBe(false); // one probe at a time
      breaker.failure(now, true);
    }
    expect(dues).toEqual([1000, 2000, 4000, 4000]);
    expect(breaker.success()).toBe('closed');
    breaker.failure(now);
    expect(breaker.reopensIn(now)).toBe(1000);
  });

  it('stays closed on a definitive answer: the node works, the request was wrong', () => {
    const t = balancer([A]);
    t.attempt(A, 1, 'answered');
    expect(t.b.snapshot()[0]?.circuit).toBe('closed');
  });

  it('tries the node due back first when every circuit is open (a whole cluster down and back)', () => {
    const t = balancer([A, B, C]);
    t.attempt(B, 0, 'failure');
    t.tick(300);
    t.attempt(A, 0, 'failure');
    t.tick(300);
    t.attempt(C, 0, 'failure');
    expect(t.b.pick(new Set())).toBe(B);
    expect(t.b.pick(new Set([B]))).toBe(A);
    // A last-resort call that fails does not restart the cool-down.
    t.attempt(B, 0, 'failure');
    expect(t.b.pick(new Set())).toBe(B);
  });
});

describe('node list', () => {
  it('adds and drops discovered nodes but always keeps the configured ones', () => {
    const t = balancer([A, B]);
    expect(t.b.setDiscovered([C])).toBe(true);
    expect(t.b.servers).toEqual([A, B, C]);
    expect(t.b.setDiscovered([C])).toBe(false);
    expect(t.b.setDiscovered([])).toBe(true);
    expect(t.b.servers).toEqual([A, B]);
    expect(t.b.snapshot().map((n) => n.source)).toEqual(['configured', 'configured']);
  });
});

describe('a preferred node (a lease goes back to the node that served it last)', () => {
  it('wins over the usual pick while its circuit is closed and it costs at most twice as much', () => {
    const t = balancer([A, B, C]);
    t.attempt(A, 20, 'success');
    t.attempt(B, 10, 'success');
    t.attempt(C, 30, 'success');
    t.randoms.push(0, 0); // the usual pick: A or B, so B (cost 11)
    expect(t.b.pick(new Set(), A)).toBe(A); // latency 21 <= 2 x 11
    t.randoms.push(0, 0);
    expect(t.b.pick(new Set(), C)).toBe(B); // latency 31 > 2 x 11: too slow to keep the preference
    t.randoms.push(0, 0);
    expect(t.b.pick(new Set(), 'http://unknown.test/')).toBe(B); // not a node: ignored
  });

  it('is dropped when its circuit is open or it was already tried in this round', () => {
    const t = balancer([A, B]);
    t.attempt(A, 10, 'success');
    t.attempt(B, 10, 'success');
    expect(t.b.pick(new Set([A]), A)).toBe(B); // tried: failover moves on
    t.attempt(A, 10, 'failure'); // one failure opens A's circuit (policy.failures = 1)
    t.randoms.push(0, 0);
    expect(t.b.pick(new Set(), A)).toBe(B);
  });
});
