import { leaseWindow, ManualClock, parseDuration, tokenExpirySeconds } from '@leasehold/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('lease timing', () => {
  const strict = { ttlMs: 60_000, graceMs: 300_000, policy: 'strict' as const };
  const overdraft = { ...strict, policy: 'overdraft' as const };

  it('starts the window at the send time; strict reserves through grace, overdraft does not', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const sentAt = clock.now();
    await clock.advance(250); // the answer arrives later; the window does not move
    expect(leaseWindow(strict, sentAt, Number.MAX_SAFE_INTEGER)).toEqual({
      expiresAt: sentAt + 60_000,
      reservedUntil: sentAt + 360_000,
    });
    expect(leaseWindow(overdraft, sentAt, Number.MAX_SAFE_INTEGER)).toEqual({
      expiresAt: sentAt + 60_000,
      reservedUntil: sentAt + 60_000,
    });
    expect(leaseWindow(strict, sentAt, sentAt + 1000).expiresAt).toBe(sentAt + 1000);
  });

  it('a token never outlives the seat reservation it stands for (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 5, max: 86_400 }),
        fc.integer({ min: 0, max: 86_400 }),
        fc.constantFrom('strict' as const, 'overdraft' as const),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (sentAt, ttl, grace, policy, licenseEnd) => {
          const w = leaseWindow({ ttlMs: ttl * 1000, graceMs: grace * 1000, policy }, sentAt, licenseEnd);
          expect(tokenExpirySeconds(w.expiresAt) * 1000).toBeLessThanOrEqual(w.reservedUntil);
          expect(w.expiresAt).toBeLessThanOrEqual(sentAt + ttl * 1000);
          expect(w.expiresAt).toBeLessThanOrEqual(licenseEnd);
        },
      ),
    );
  });

  it('the manual clock jumps wall time without moving monotonic time', async () => {
    const clock = new ManualClock(1_000_000);
    await clock.advance(500);
    clock.setWall(0);
    expect([clock.now(), clock.monotonic()]).toEqual([0, 500]);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('parses durations', () => {
    expect(['500ms', '60s', '5m', '2h', '1d', '90'].map(parseDuration)).toEqual([
      500, 60_000, 300_000, 7_200_000, 86_400_000, 90_000,
    ]);
    expect(() => parseDuration('soon')).toThrow(TypeError);
  });
});
