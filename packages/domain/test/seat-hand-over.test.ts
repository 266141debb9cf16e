import { holdsSeat, type Lease, leaseState, SeatHandOver } from '@leasehold/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const R = Date.UTC(2026, 5, 1);
const lease = (overrides: Partial<Lease> = {}): Lease => ({
  id: 'l1',
  licenseId: 'acme',
  feature: 'solver',
  slot: 0,
  fence: 1,
  client: { id: 'c1' },
  requestId: 'r1',
  createdAt: R - 60_000,
  renewedAt: R - 60_000,
  expiresAt: R,
  reservedUntil: R,
  graceMs: 0,
  revokedAt: undefined,
  endedAt: undefined,
  endReason: undefined,
  ...overrides,
});

describe('SeatHandOver: a seat goes to another lease at reservedUntil + maxClockSkewMs', () => {
  it('keeps the seat through [R, R + M) while the holder sees its lease expired from R', () => {
    const rule = new SeatHandOver(2000);
    const l = lease();
    expect(rule.freeAt(l)).toBe(R + 2000);
    expect([R - 1, R, R + 1999, R + 2000].map((t) => rule.occupies(l, t))).toEqual([true, true, true, false]);
    expect([holdsSeat(l, R), leaseState(l, R)]).toEqual([false, 'expired']);
    // An ended lease (checked in, revoked now, expired by a sweep) holds nothing, margin or not.
    expect(rule.occupies(lease({ endReason: 'released', endedAt: R - 30_000 }), R - 1)).toBe(false);
  });

  it('agrees with its deadline bound: a deadline at most freedDeadlineAt(now) is free, a later one is not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: -90_000, max: 90_000 }), (m, d) => {
        const rule = new SeatHandOver(m);
        const now = R + d;
        expect(rule.occupies(lease(), now)).toBe(!(R <= rule.freedDeadlineAt(now)));
      }),
    );
  });

  it('is exact with no margin, and refuses a margin that is not whole ms in [0, 60000]', () => {
    expect(new SeatHandOver().occupies(lease(), R)).toBe(false);
    for (const bad of [-1, 1.5, 60_001, Number.NaN]) expect(() => new SeatHandOver(bad)).toThrow(TypeError);
  });
});
