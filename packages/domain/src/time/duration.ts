const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `60s`, `5m`, `2h`, `1d` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new TypeError(`not a duration: "${text}" (use e.g. 500ms, 60s, 5m, 2h, 1d)`);
  const value = Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(value)) throw new TypeError(`not a duration: "${text}"`);
  return Math.round(value);
}
