/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values audit events hold: objects, arrays, strings,
 * booleans, null and finite numbers. JCS serializes strings and numbers exactly as ECMAScript's
 * JSON.stringify does (RFC 8785 §3.2.2.2, §3.2.2.3) and sorts object keys by UTF-16 code units
 * (§3.2.3), which is JavaScript's default string order — so the whole scheme is JSON.stringify with
 * sorted keys. Written here rather than taken from npm because `canonicalize` 5.x requires Node >= 22
 * (we support 20) and these twenty lines are the entire algorithm.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS cannot represent a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const item = record[key];
      if (item === undefined) continue; // as JSON.stringify: absent
      parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new TypeError(`JCS cannot represent a ${typeof value}`);
}
