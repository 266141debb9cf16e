import { type Lease, LeaseholdError } from '@leasehold/domain';

/**
 * Where a page of `listLeases` ends, as an opaque string for `?after=` (base64url, so callers do not build
 * one by hand). Live listings run in deadline order — the order of the deadline index both backends keep
 * for the sweeper (SQLite `leases_live_deadline`, etcd `by-deadline/`) — so the cursor is the last lease's
 * (reservedUntil, id); listings with ended leases run by id, and the cursor is the id alone.
 */
/** Leases a listing returns when the caller names no limit. */
export const DEFAULT_LIST_LIMIT = 1000;

export type LeasePosition =
  | { readonly kind: 'deadline'; readonly reservedUntil: number; readonly id: string }
  | { readonly kind: 'id'; readonly id: string };

/** The cursor that continues a listing after `lease` (of a listing with or without ended leases). */
export function leaseCursor(lease: Lease, includeEnded: boolean): string {
  const text = includeEnded ? `i:${lease.id}` : `d:${lease.reservedUntil}:${lease.id}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Reads a cursor back for a listing of the same kind; a cursor that was not made by `leaseCursor`, or
 * for the other kind of listing, is the caller's mistake: VALIDATION_FAILED, not a silent restart.
 */
export function parseLeaseCursor(cursor: string, includeEnded: boolean): LeasePosition {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bad = () =>
    new LeaseholdError(
      'VALIDATION_FAILED',
      `"after" is not a cursor of this listing (pass the "next" of the previous page${includeEnded ? ' with all=true' : ''})`,
    );
  if (includeEnded) {
    if (!text.startsWith('i:') || text.length <= 2) throw bad();
    return { kind: 'id', id: text.slice(2) };
  }
  const match = /^d:(\d{1,16}):(.+)$/s.exec(text);
  if (!match) throw bad();
  return { kind: 'deadline', reservedUntil: Number(match[1]), id: match[2] as string };
}
