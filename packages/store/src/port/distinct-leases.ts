import type { LeaseRef } from './lease-store.js';

/**
 * `renewLeases` takes each lease once: etcd refuses a transaction that writes one key twice, and two
 * answers for one lease would say nothing the first did not. A duplicate is the caller's mistake.
 */
export function assertDistinctLeases(inputs: readonly LeaseRef[]): void {
  const seen = new Set<string>();
  for (const { leaseId } of inputs) {
    if (seen.has(leaseId)) throw new TypeError(`lease "${leaseId}" is named twice in one renewal`);
    seen.add(leaseId);
  }
}
