import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../src/http/iso-time.js';

const DAY_MS = 86_400_000;

/** The lease answers' time formatter (http/iso-time.ts) writes exactly what Date#toISOString writes. */
describe('isoTime', () => {
  it('equals toISOString for any time from 1970 to 9999, in any order of days', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 253_402_300_799_999 }), { maxLength: 20 }), (times) => {
        for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 500 },
    );
  });

  it('equals toISOString around day boundaries and with three days in turn (the day cache holds two)', () => {
    const base = Date.UTC(2026, 11, 7);
    const times = [0, 1, 999, 1000, 59_999, 3_599_999, DAY_MS - 1, DAY_MS, DAY_MS + 1];
    for (const offset of [0, DAY_MS, 2 * DAY_MS, 0, 2 * DAY_MS, DAY_MS]) {
      for (const t of times) {
        const ms = base + offset + t;
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }
    }
  });

  it('leaves times Date formats differently, or refuses, to Date', () => {
    for (const ms of [-1, -DAY_MS - 5, 253_402_300_800_000, 8.64e15, 1.5, 1e12 + 0.25]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
