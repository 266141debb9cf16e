import type { NodeStatus } from '@leasehold/dashboard/snapshot';
import type { NodeRecord } from '@leasehold/store';

/** One node as the dashboard shows it: the type is the dashboard's, the one definition of the stream. */
export type { NodeStatus };

/**
 * Remembers the nodes this node has seen, so that a node that dies is shown as down instead of simply
 * vanishing. Membership drops a node once its heartbeat lease expires (docs/ha.md), which is about the
 * moment it turns unhealthy: without this memory the dashboard could never show a dead node as dead.
 * The memory is per process and short (`keepMs`); a node started after the death never knew the dead one.
 */
export class NodeRoster {
  readonly #seen = new Map<string, NodeRecord>();

  constructor(
    private readonly selfId: string,
    private readonly ttlMs: number,
    private readonly keepMs: number,
  ) {}

  /**
   * The live records from membership merged with the remembered departed ones, at wall time `now`.
   * `undefined` means the list could not be read: every remembered node then ages by its last heartbeat.
   */
  update(live: readonly NodeRecord[] | undefined, now: number): NodeStatus[] {
    const liveIds = live ? new Set(live.map((n) => n.id)) : undefined;
    for (const n of live ?? []) this.#seen.set(n.id, n);
    const out: NodeStatus[] = [];
    for (const [id, n] of this.#seen) {
      const age = Math.max(0, now - n.heartbeatAt);
      const departed = liveIds !== undefined && !liveIds.has(id);
      if (departed && age > this.keepMs) {
        this.#seen.delete(id);
        continue;
      }
      const healthy = !departed && age < this.ttlMs;
      out.push({
        id,
        url: n.url,
        version: n.version,
        role: healthy ? (n.leads.includes('sweeper') ? 'leader' : 'follower') : null,
        startedAt: new Date(n.startedAt).toISOString(),
        heartbeatAgeMs: Math.round(age),
        healthy,
        departed,
        self: id === this.selfId,
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }
}
