import type { Compare, EtcdGateway, WriteOp } from './etcd-gateway.js';

/** A compare failed: someone else wrote first. Re-read and decide again (see optimistic.ts). */
export class Conflict extends Error {}

/** Runs one compare-guarded transaction; a failed compare is a Conflict. Resolves to its revision. */
export async function commit(
  gateway: EtcdGateway,
  compare: readonly Compare[],
  writes: readonly WriteOp[],
): Promise<number> {
  const result = await gateway.txn(compare, writes);
  if (!result.succeeded) throw new Conflict();
  return result.revision;
}
