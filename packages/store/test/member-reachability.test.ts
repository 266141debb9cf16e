import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } from 'etcd3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemberReachability } from '../src/etcd/member-reachability.js';

// When may a store operation stop retrying because no etcd quorum can answer it (issue 15)? Exactly when
// a majority of members failed their latest call recently; a minority failing must never stop it.

function members(count: number) {
  let now = 10_000;
  const reach = new MemberReachability(1000, () => now);
  const policies = Array.from({ length: count }, (_, i) => reach.policyFor(`m${i}:2379`));
  const call = (i: number, outcome: 'answer' | 'deadline' | 'unavailable' | 'bad-request') =>
    policies[i]
      ?.execute(async () => {
        if (outcome === 'answer') return 'ok';
        if (outcome === 'deadline') throw new GRPCDeadlineExceededError('deadline exceeded');
        if (outcome === 'unavailable') throw new GRPCUnavailableError('connection refused');
        throw new GRPCInvalidArgumentError('too many operations in txn request');
      })
      .catch(() => undefined);
  return {
    reach,
    call,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('MemberReachability', () => {
  it('is not failing before any call, nor with one member of three failing', async () => {
    const m = members(3);
    expect(m.reach.majorityFailing()).toBe(false);
    await m.call(0, 'deadline');
    await m.call(0, 'deadline'); // its breaker is now open as well
    await m.call(1, 'answer');
    expect(m.reach.majorityFailing()).toBe(false);
  });

  it('fails as soon as two of three members failed their latest call (deadline or refused)', async () => {
    const m = members(3);
    await m.call(0, 'deadline');
    expect(m.reach.majorityFailing()).toBe(false);
    await m.call(1, 'unavailable');
    expect(m.reach.majorityFailing()).toBe(true);
  });

  it('an answer clears the member, even an error answer (the member is there)', async () => {
    const m = members(3);
    await m.call(0, 'deadline');
    await m.call(1, 'deadline');
    expect(m.reach.majorityFailing()).toBe(true);
    await m.call(1, 'bad-request');
    expect(m.reach.majorityFailing()).toBe(false);
    await m.call(1, 'deadline');
    await m.call(0, 'answer');
    expect(m.reach.majorityFailing()).toBe(false);
  });

  it('forgets failures older than the recent window, even with the breaker still open', async () => {
    const m = members(3);
    await m.call(0, 'unavailable'); // refused: not a breaker failure
    await m.call(1, 'unavailable');
    expect(m.reach.majorityFailing()).toBe(true);
    m.advance(1001);
    expect(m.reach.majorityFailing()).toBe(false);
    // Two deadlines in a row open member 2's breaker; once its failures are old, it no longer counts
    // (an election can leave a breaker open with no call landing on it since).
    await m.call(2, 'deadline');
    await m.call(2, 'deadline');
    await m.call(0, 'deadline');
    expect(m.reach.majorityFailing()).toBe(true);
    m.advance(1001);
    expect(m.reach.majorityFailing()).toBe(false);
    await m.call(1, 'deadline');
    expect(m.reach.majorityFailing()).toBe(false); // only member 1 failed recently
    await m.call(0, 'deadline');
    expect(m.reach.majorityFailing()).toBe(true);
  });

  it('a single-member cluster fails with its one member', async () => {
    const m = members(1);
    await m.call(0, 'deadline');
    expect(m.reach.majorityFailing()).toBe(true);
  });
});

// The rule, checked against a model over any history: for clusters of 1..5 members and any sequence of
// answers, failures and clock steps, "majority failing" holds exactly when more than half the members'
// latest outcome is a failure no older than the window. Above all it never holds while a quorum's latest
// call was answered (that would turn away a node that can still reach etcd: the CI run G failure).
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
        const reach = new MemberReachability(windowMs, () => now);
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
        }
      }),
      { numRuns: 500 },
    );
  });
});
