import { ClusterSeatHandOver, type Lease, MAX_CLOCK_SKEW_MS_LIMIT } from '@leasehold/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const R = Date.UTC(2026, 5, 1);
const lease = { reservedUntil: R, endReason: undefined } as unknown as Lease;

describe('ClusterSeatHandOver: the widest margin the cluster announces, never narrowed', () => {
  it("widens to a peer's larger margin and applies it to every rule", () => {
    const rule = new ClusterSeatHandOver(0);
    expect(rule.occupies(lease, R)).toBe(false);
    expect(rule.adopt([0, 1500, undefined])).toBe(true);
    expect(rule.maxClockSkewMs).toBe(1500);
    expect(rule.configuredMs).toBe(0);
    expect(rule.freeAt(lease)).toBe(R + 1500);
    expect(rule.occupies(lease, R + 1499)).toBe(true);
    expect(rule.occupies(lease, R + 1500)).toBe(false);
    expect(rule.freedDeadlineAt(R + 1500)).toBe(R);
  });

  it('ignores what is not a margin a node would accept', () => {
    const rule = new ClusterSeatHandOver(1000);
    expect(rule.adopt([Number.NaN, -5, 2.5, MAX_CLOCK_SKEW_MS_LIMIT + 1, undefined])).toBe(false);
    expect(rule.maxClockSkewMs).toBe(1000);
  });

  it('is, after any sequence of announcements, the largest valid margin seen (own included)', () => {
    const margin = fc.oneof(fc.integer({ min: 0, max: MAX_CLOCK_SKEW_MS_LIMIT }), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_CLOCK_SKEW_MS_LIMIT }),
        fc.array(fc.array(margin, { maxLength: 5 }), { maxLength: 8 }),
        (own, rounds) => {
          const rule = new ClusterSeatHandOver(own);
          let expected = own;
          for (const round of rounds) {
            const before = rule.maxClockSkewMs;
            for (const m of round) if (m !== undefined && m > expected) expected = m;
            expect(rule.adopt(round)).toBe(expected > before);
            // Never narrower than before, whatever the round held (a node that left included).
            expect(rule.maxClockSkewMs).toBeGreaterThanOrEqual(before);
          }
          expect(rule.maxClockSkewMs).toBe(expected);
        },
      ),
    );
  });
});
