import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } from 'etcd3';
// etcd3's own connection pool (not exported by its index): the routing under test is its host loop over
// our policies, so the tests run that loop rather than a copy of it. No call leaves the process.
import { ConnectionPool, type Host } from 'etcd3/lib/connection-pool.js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MemberReachability } from '../src/etcd/member-reachability.js';
import type { BatchTimers } from '../src/etcd/txn-batcher.js';

// Which members does a node send its calls to, and when may a store operation stop retrying because no
// etcd quorum can answer it (issue 15)? Regression (partition leader flake, CI at 07fa9e9): calls kept
// landing on, and waiting for, a cut-off ex-leader while a quorum answered; one renewal spent its whole
// budget that way.

const DEADLINE = 500;

/** A monotonic clock whose timers fire when the test advances it. */
function fakeClock() {
  let now = 10_000;
  let nextId = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  const timers: BatchTimers = {
    set: (fn, ms) => {
      due.set(++nextId, { at: now + ms, fn });
      return nextId;
    },
    clear: (h) => due.delete(h as number),
  };
  /** Moves the clock on by `ms`, firing each timer at its time, and lets the promises it settles run. */
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      const next = [...due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > until) break;
      due.delete(next[0]);
      now = Math.max(now, next[1].at);
      next[1].fn();
      await settle();
    }
    now = until;
    await settle();
  };
  return { now: () => now, timers, advance };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

type Behaviour = 'answer' | 'hang' | 'refuse' | 'bad-request';

/** The member a pool's call went to (`Host.host` is private in etcd3's types, public at run time). */
const hostOf = (resource: Host) => (resource as unknown as { readonly host: string }).host;

/**
 * `count` members behind etcd3's ConnectionPool with our policies; each member behaves as the test says.
 * A hanging member fails the call with a deadline after DEADLINE ms of the fake clock, as gRPC would.
 */
function cluster(count: number) {
  const clock = fakeClock();
  const hosts = Array.from({ length: count }, (_, i) => `127.0.0.1:${40_000 + i}`);
  const behaviour = new Map<string, Behaviour>(hosts.map((h) => [h, 'answer']));
  const calls = new Map<string, number[]>(hosts.map((h) => [h, []]));
  const probes = new Map<string, number[]>(hosts.map((h) => [h, []]));
  let probing = false;
  const reach: MemberReachability = new MemberReachability({
    recentMs: 4 * DEADLINE,
    judgeAfterMs: DEADLINE / 2,
    probeAfterMs: DEADLINE / 2,
    maxProbeAfterMs: 2 * DEADLINE,
    now: clock.now,
    timers: clock.timers,
    probe: async (): Promise<unknown> => {
      probing = true;
      try {
        return await send();
      } finally {
        probing = false;
      }
    },
  });
  const pool: ConnectionPool = new ConnectionPool({
    hosts,
    faultHandling: { host: (h) => reach.policyFor(h) },
  });
  const send = (): Promise<unknown> =>
    pool.withConnection('KV', ({ resource }: { resource: Host }): Promise<unknown> => {
      const host = hostOf(resource);
      (probing ? probes : calls).get(host)?.push(clock.now());
      switch (behaviour.get(host)) {
        case 'hang':
          return new Promise((_, reject) =>
            clock.timers.set(() => reject(new GRPCDeadlineExceededError('deadline exceeded')), DEADLINE),
          );
        case 'refuse':
          return Promise.reject(new GRPCUnavailableError('connection refused'));
        case 'bad-request':
          return Promise.reject(new GRPCInvalidArgumentError('too many operations in txn request'));
        default:
          return Promise.resolve(host);
      }
    });
  /** One gateway call; resolves with the member that answered, or the error, and how long it took. */
  const call = async () => {
    const started = clock.now();
    const outcome: Promise<{ host?: string; error?: string; ms: number }> = reach.call(send).then(
      (host) => ({ host: host as string, ms: clock.now() - started }),
      (err: Error) => ({ error: err.constructor.name, ms: clock.now() - started }),
    );
    // Let it run, and time pass until it settles (a hanging member: one deadline).
    let done: Awaited<typeof outcome> | undefined;
    void outcome.then((o) => {
      done = o;
    });
    await settle();
    while (done === undefined) await clock.advance(10);
    return done;
  };
  return { reach, pool, hosts, behaviour, calls, probes, call, clock };
}

afterEach(() => {
  ConnectionPool.deterministicOrder = false;
});

describe('MemberReachability: routing', () => {
  it('one failed call takes a member out: no later call reaches it or waits for it while others answer', async () => {
    // Deterministic order: every call tries the last member first, the one that hangs.
    ConnectionPool.deterministicOrder = true;
    const c = cluster(3);
    const cut = c.hosts[2] as string;
    c.behaviour.set(cut, 'hang');
    const first = await c.call();
    expect(first).toMatchObject({ error: 'GRPCDeadlineExceededError', ms: DEADLINE });
    expect(c.reach.skipped()).toEqual([cut]);
    // 10 s of calls, 10 ms apart: each goes straight to a member that answers, none waits.
    for (let i = 0; i < 1000; i++) {
      await c.clock.advance(10);
      const r = await c.call();
      expect(r, `call ${i}`).toMatchObject({ ms: 0 });
      expect(r).not.toHaveProperty('error');
    }
    expect(c.calls.get(cut)).toHaveLength(1);
    // ...while the cut member is probed off the request path, at 250, 500, 1000, 1000... ms after each failure.
    const at = c.probes.get(cut) ?? [];
    const gaps = at.map((t, i) => t - (i === 0 ? 10_000 + first.ms : (at[i - 1] as number) + DEADLINE));
    expect(gaps.slice(0, 5)).toEqual([250, 500, 1000, 1000, 1000]);
    expect(c.reach.majorityFailing()).toBe(false);
  });

  it('a probe that answers lets the member back in; a refused call takes it out without any wait', async () => {
    ConnectionPool.deterministicOrder = true;
    const c = cluster(3);
    const m = c.hosts[2] as string;
    c.behaviour.set(m, 'refuse');
    expect(await c.call()).toMatchObject({ error: 'GRPCUnavailableError', ms: 0 });
    expect(c.reach.skipped()).toEqual([m]);
    expect(await c.call()).toMatchObject({ host: c.hosts[1] });
    c.behaviour.set(m, 'answer'); // back (a restart, a heal)
    await c.clock.advance(250); // the first probe answers
    expect(c.probes.get(m)).toHaveLength(1);
    expect(c.reach.skipped()).toEqual([]);
    expect(await c.call()).toMatchObject({ host: m });
  });

  it('an answer that is an error (a bad request) proves the member is there', async () => {
    ConnectionPool.deterministicOrder = true;
    const c = cluster(3);
    const m = c.hosts[2] as string;
    c.behaviour.set(m, 'bad-request');
    expect(await c.call()).toMatchObject({ error: 'GRPCInvalidArgumentError' });
    expect(c.reach.skipped()).toEqual([]);
    expect(c.probes.get(m)).toHaveLength(0);
  });

  it('with every member out, calls still go to them (a cut-off node tries, then answers 503 at once)', async () => {
    const c = cluster(3);
    for (const h of c.hosts) c.behaviour.set(h, 'hang');
    for (let i = 0; i < 3; i++) {
      // Each call waits one deadline on one member: never refused unasked, never longer.
      expect(await c.call()).toMatchObject({ error: 'GRPCDeadlineExceededError', ms: DEADLINE });
    }
    expect(c.reach.majorityFailing()).toBe(true);
    expect(c.reach.skipped()).toEqual([]);
    // Healed: the first call answers and lets its member back in; the others follow by call or probe.
    for (const h of c.hosts) c.behaviour.set(h, 'answer');
    const first = await c.call();
    expect(first).toMatchObject({ ms: 0 });
    expect(c.reach.skipped()).toHaveLength(2); // the one that answered takes every call now
    expect(await c.call()).toMatchObject({ host: first.host });
    await c.clock.advance(1000); // the others answer their next probe
    expect(c.reach.skipped()).toEqual([]);
    expect(c.reach.majorityFailing()).toBe(false);
  });

  it('a node cut off from two of three members keeps saying "majority failing" for as long as the cut lasts', async () => {
    const c = cluster(3);
    const [a, b] = c.hosts as [string, string];
    c.behaviour.set(a, 'hang');
    c.behaviour.set(b, 'hang');
    // The cut-off members fail their calls until both are out; then the calls go to the third.
    for (let i = 0; i < 20 && c.reach.skipped().length < 2; i++) await c.call();
    expect(c.reach.skipped().sort()).toEqual([a, b].sort());
    // Their probes keep failing, no further apart than the recent window: the verdict never lapses.
    for (let t = 0; t < 20_000; t += 50) {
      await c.clock.advance(50);
      expect(c.reach.majorityFailing(), `${t} ms`).toBe(true);
    }
    expect((c.probes.get(a) ?? []).length).toBeGreaterThan(10);
  });

  it('a deadline the call had no time for (the end of its budget) says nothing about the member', async () => {
    ConnectionPool.deterministicOrder = true;
    const c = cluster(3);
    const m = c.hosts[2] as string;
    // A deadline at once (the call was given ~0 ms): not judged. The member stays in, nothing is probed.
    const short = c.reach.call(() =>
      c.pool.withConnection('KV', () => Promise.reject(new GRPCDeadlineExceededError('deadline exceeded'))),
    );
    await expect(short).rejects.toThrow(GRPCDeadlineExceededError);
    expect(c.reach.skipped()).toEqual([]);
    expect(c.reach.majorityFailing()).toBe(false);
    expect(c.probes.get(m)).toHaveLength(0);
  });

  it("etcd3's own streams route like calls but leave no outcome (opening one proves nothing)", async () => {
    ConnectionPool.deterministicOrder = true;
    const c = cluster(3);
    const m = c.hosts[2] as string;
    c.behaviour.set(m, 'hang');
    await c.call(); // m out
    // A watch opening, outside any gateway call: it skips the out member and records nothing.
    const opened = await c.pool.withConnection('Watch', ({ resource }: { resource: Host }) =>
      hostOf(resource),
    );
    expect(opened).not.toBe(m);
    c.reach.observe(c.hosts[1] as string, false); // now only hosts[0] is in
    const again = await c.pool.withConnection('Watch', ({ resource }: { resource: Host }) =>
      hostOf(resource),
    );
    expect(again).toBe(c.hosts[0]);
    expect(c.reach.skipped().sort()).toEqual([c.hosts[1], m].sort());
  });

  it('close() stops the probes', async () => {
    const c = cluster(3);
    for (const h of c.hosts) c.behaviour.set(h, 'refuse');
    await c.call();
    c.reach.close();
    await c.clock.advance(10_000);
    expect([...c.probes.values()].flat()).toEqual([]);
  });
});

/** A MemberReachability on a clock the test sets, whose probes never run (outcomes given by hand). */
function byHand(size: number) {
  let now = 0;
  const reach = new MemberReachability({
    recentMs: 1000,
    judgeAfterMs: 0,
    probeAfterMs: 250,
    maxProbeAfterMs: 1000,
    probe: async () => undefined,
    now: () => now,
    timers: { set: () => 0, clear: () => undefined },
  });
  for (let i = 0; i < size; i++) reach.policyFor(`m${i}`);
  return {
    reach,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

describe('MemberReachability: majority failing', () => {
  it('is not failing before any call, nor with one member of three failing', () => {
    const m = byHand(3);
    expect(m.reach.majorityFailing()).toBe(false);
    m.reach.observe('m0', false);
    m.reach.observe('m1', true);
    expect(m.reach.majorityFailing()).toBe(false);
  });

  it('fails as soon as two of three members failed their latest call, and an answer clears a member', () => {
    const m = byHand(3);
    m.reach.observe('m0', false);
    expect(m.reach.majorityFailing()).toBe(false);
    m.reach.observe('m1', false);
    expect(m.reach.majorityFailing()).toBe(true);
    m.reach.observe('m1', true);
    expect(m.reach.majorityFailing()).toBe(false);
  });

  it('forgets failures older than the recent window', () => {
    const m = byHand(3);
    m.reach.observe('m0', false);
    m.reach.observe('m1', false);
    expect(m.reach.majorityFailing()).toBe(true);
    m.advance(1001);
    expect(m.reach.majorityFailing()).toBe(false);
    m.reach.observe('m2', false);
    expect(m.reach.majorityFailing()).toBe(false); // only m2 failed recently
    m.reach.observe('m0', false);
    expect(m.reach.majorityFailing()).toBe(true);
  });

  it('a single-member cluster fails with its one member', async () => {
    const c = cluster(1);
    c.behaviour.set(c.hosts[0] as string, 'hang');
    expect(await c.call()).toMatchObject({ error: 'GRPCDeadlineExceededError' });
    expect(c.reach.majorityFailing()).toBe(true);
  });
});

// The rule, checked against a model over any history: for clusters of 1..5 members and any sequence of
// answers, failures and clock steps, "majority failing" holds exactly when more than half the members'
// latest outcome is a failure no older than the window. Above all it never holds while a quorum's latest
// call was answered (that would turn away a node that can still reach etcd: the CI run G failure). And a
// member is skipped exactly when its latest outcome is a failure and some member's is not.
describe('MemberReachability against a model', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('call' as const), member: fc.nat(4), answered: fc.boolean() }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
  );

  it('agrees with the definition after every step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 60 }), (size, steps) => {
        const windowMs = 1000;
        let now = 0;
        const reach = new MemberReachability({
          recentMs: windowMs,
          judgeAfterMs: 0,
          probeAfterMs: 250,
          maxProbeAfterMs: 1000,
          probe: async () => undefined,
          now: () => now,
          timers: { set: () => 0, clear: () => undefined }, // probes never run here
        });
        for (let i = 0; i < size; i++) reach.policyFor(`m${i}`);
        const latest = new Map<number, { answered: boolean; at: number }>();
        for (const s of steps) {
          if (s.kind === 'advance') now += s.ms;
          else if (s.member < size) {
            reach.observe(`m${s.member}`, s.answered);
            latest.set(s.member, { answered: s.answered, at: now });
          }
          const failing = [...latest.values()].filter((o) => !o.answered && now - o.at <= windowMs);
          const answeredQuorum = [...latest.values()].filter((o) => o.answered).length > size / 2;
          expect(reach.majorityFailing()).toBe(failing.length > size / 2);
          if (answeredQuorum) expect(reach.majorityFailing()).toBe(false);
          const out = [...latest.entries()].filter(([, o]) => !o.answered).map(([i]) => `m${i}`);
          const anyIn = out.length < size;
          expect(reach.skipped().sort()).toEqual(anyIn ? out.sort() : []);
        }
      }),
      { numRuns: 500 },
    );
  });
});
