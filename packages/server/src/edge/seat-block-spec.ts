import { parseDuration } from '@leasehold/domain';

/** One block an edge site holds: `LICENSE_ID:FEATURE=N` in the configuration. */
export interface SeatBlockSpec {
  readonly licenseId: string;
  readonly feature: string;
  readonly seats: number;
}

/** Parses `--seat-block` values (the schema has checked their shape); a pool named twice is refused. */
export function parseSeatBlocks(specs: readonly string[]): SeatBlockSpec[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    const match = /^([^:=,\s]+):([^:=,\s]+)=(\d{1,6})$/.exec(spec);
    if (!match) throw new TypeError(`not a seat block: "${spec}" (use LICENSE_ID:FEATURE=N)`);
    const [, licenseId = '', feature = '', seats = '0'] = match;
    const key = `${licenseId}:${feature}`;
    if (seen.has(key)) throw new TypeError(`seat block "${key}" is named twice`);
    seen.add(key);
    return { licenseId, feature, seats: Number(seats) };
  });
}

/** The block TTL in ms; at least 1 s, so that renewing at a third of it leaves room for a round trip. */
export function blockTtlMs(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1000) throw new TypeError(`blockTtl must be at least 1s, not "${text}"`);
  return ms;
}
