/**
 * Times as an operator reads them in a table: instants in UTC to the second (`2026-12-06 09:14:03Z`, one
 * zone for every server of a site), spans as the two largest units, a zero second one left out (`3d4h`, `5m12s`, `4m`, `800ms`).
 */
export function instant(iso: string | undefined): string {
  if (iso === undefined) return '-';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

export function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)}ms`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const first = units.findIndex(([, size]) => abs >= size);
  const [unit, size] = units[first] as [string, number];
  const next = units[first + 1];
  const rest = Math.floor((abs % size) / (next?.[1] ?? size));
  return `${Math.floor(abs / size)}${unit}${next && rest > 0 ? `${rest}${next[0]}` : ''}`;
}

/** How long ago `iso` was, from `now`: `5m12s ago`. */
export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  return `${span(now - Date.parse(iso))} ago`;
}

/** How long until `iso`, or how long since it passed: `in 30d`, `3h ago`. */
export function until(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  const left = Date.parse(iso) - now;
  return left >= 0 ? `in ${span(left)}` : `${span(-left)} ago`;
}
