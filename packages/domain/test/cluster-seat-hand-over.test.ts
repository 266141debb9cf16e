import { ClusterSeatHandOver, type Lease, MAX_CLOCK_SKEW_MS_LIMIT } from '@leasehold/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const R = Date.UTC(2026, 5, 1);
const lease = { reservedUntil: R, endReason: undefined } as unknown as Lease;

describe("ClusterSeatHandOver: the cluster's recorded margin, never below the node's own", () => {
  it('holds seats for the widest margin any node accepts until the recorded one is read', () => {
    const rule = new ClusterSeatHandOver(0);
    expect(rule.known).toBe(false);
    expect(rule.maxClockSkewMs).toBe(MAX_CLOCK_SKEW_MS_LIMIT);
    expect(rule.occupies(lease, R + MAX_CLOCK_SKEW_MS_LIMIT - 1)).toBe(true);
  });

  it("applies a wider recorded margin to every rule, and the node's own when the record is narrower", () => {
    const rule = new ClusterSeatHandOver(1000);
    expect(rule.settle(1500)).toBe(true);
    expect(rule.maxClockSkewMs).toBe(1500);
    expect(rule.configuredMs).toBe(1000);
    expect(rule.freeAt(lease)).toBe(R + 1500);
    expect(rule.occupies(lease, R + 1499)).toBe(true);
    expect(rule.occupies(lease, R + 1500)).toBe(false);
    expect(rule.freedDeadlineAt(R + 1500)).toBe(R);
    expect(rule.settle(1500)).toBe(false);
    // An operator lowered the record: the node's own margin still holds.
    expect(rule.settle(200)).toBe(true);
    expect(rule.maxClockSkewMs).toBe(1000);
  });

  it('ignores a recorded value that is not a margin a node would accept', () => {
    const rule = new ClusterSeatHandOver(1000);
    for (const bad of [Number.NaN, -5, 2.5, MAX_CLOCK_SKEW_MS_LIMIT + 1])
      expect(rule.settle(bad)).toBe(false);
    expect(rule.known).toBe(false);
  });

  it('is, after any sequence of records, max(last valid record, own), never below own', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_CLOCK_SKEW_MS_LIMIT }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX_CLOCK_SKEW_MS_LIMIT }), fc.constant(-1)), {
          maxLength: 10,
        }),
        (own, records) => {
          const rule = new ClusterSeatHandOver(own);
          let last: number | undefined;
          for (const r of records) {
            rule.settle(r);
            if (r >= 0) last = r;
            expect(rule.maxClockSkewMs).toBeGreaterThanOrEqual(own);
          }
          expect(rule.maxClockSkewMs).toBe(
            last === undefined ? MAX_CLOCK_SKEW_MS_LIMIT : Math.max(last, own),
          );
        },
      ),
    );
  });
});
