import type { StoreMember } from '@leasehold/store';

/**
 * Counts store leader changes from successive views of the store's members. A change is a new leader
 * name or a new raft term under a leader (the same member re-elected after an election still means
 * writes stalled). A view without a leader is no change yet: the change is counted when the next leader
 * shows up, once per election however many views lacked a leader in between.
 */
export class LeaderTracker {
  #last: { name: string; term: number | undefined } | undefined;
  #changes = 0;

  get changes(): number {
    return this.#changes;
  }

  /** Feeds one view; returns how many changes it revealed (0 or 1). */
  observe(members: readonly StoreMember[]): number {
    const leader = members.find((m) => m.leader);
    if (!leader) return 0;
    const term = members.reduce<number | undefined>(
      (max, m) => (m.raftTerm !== undefined && (max === undefined || m.raftTerm > max) ? m.raftTerm : max),
      undefined,
    );
    const last = this.#last;
    this.#last = { name: leader.name, term };
    if (!last) return 0;
    const changed =
      last.name !== leader.name || (term !== undefined && last.term !== undefined && term > last.term);
    if (changed) this.#changes++;
    return changed ? 1 : 0;
  }
}
