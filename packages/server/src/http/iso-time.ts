const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z + 1 ms: past it `toISOString` writes a six-digit year. */
const YEAR_10000 = 253_402_300_800_000;

interface DayPrefix {
  day: number;
  prefix: string;
}

/** The two UTC days seen last with their `YYYY-MM-DDT` (a lease's times span its TTL: now and later). */
const days: [DayPrefix, DayPrefix] = [
  { day: Number.NaN, prefix: '' },
  { day: Number.NaN, prefix: '' },
];
let older = 0;

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, the same string, for the times in every lease answer: five per checkout and
 * renewal, whose Date objects and formatting were 2.2% of a renewal's CPU in a profile of the embedded
 * benchmark (bench/README.md). The date part is kept for the last two UTC days; the time of day is
 * arithmetic. Anything outside 1970-9999 or not a whole number of ms goes to Date itself (its own
 * rounding, six-digit years and RangeError).
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let prefix: string;
  const [a, b] = days;
  if (a.day === day) prefix = a.prefix;
  else if (b.day === day) prefix = b.prefix;
  else {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    const slot = older === 0 ? a : b;
    slot.day = day;
    slot.prefix = prefix;
    older = 1 - older;
  }
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  const hour = (rest - minute) / 60;
  return `${prefix}${two(hour)}:${two(minute)}:${two(second)}.${three(milli)}Z`;
}
