import { pollUntil } from '../lib/poll.js';
import type { EtcdMember, MemberProcess } from './etcd-member.js';
import { type EtcdStatus, readHealth, readStatus } from './gateway.js';
import { exitedError } from './member-exit.js';

// A member's HTTP calls from the harness: short, because a paused member never answers and the waits poll.
export const PROBE_TIMEOUT_MS = 750;

/** Asks a cluster's members about their health and their leader, for {@link EtcdCluster}'s waits. */
export class ClusterProbe {
  readonly #members: readonly MemberProcess[];
  readonly #fetch: typeof fetch;

  constructor(members: readonly MemberProcess[], fetchFn: typeof fetch) {
    this.#members = members;
    this.#fetch = fetchFn;
  }

  /** See {@link EtcdCluster.waitHealthy}; with `failIfAnyExits`, a member that exits ends the wait. */
  async waitHealthy(timeoutMs: number, failIfAnyExits: boolean): Promise<EtcdMember> {
    return pollUntil(
      async (remainingMs, note) => {
        if (failIfAnyExits) await this.#throwIfAnyExited();
        const running = this.#members.filter((m) => m.state === 'running');
        if (running.length === 0) throw new TypeError('waitHealthy: no member is running');
        const timeoutMs = Math.min(PROBE_TIMEOUT_MS, remainingMs);
        // Status first: it is answered locally, while /health is a linearizable read through Raft, worth
        // asking only once the members agree on a leader.
        const statuses = await Promise.all(running.map((m) => this.#status(m, timeoutMs)));
        const leaderIds = new Set(statuses.map((s) => s?.leaderId));
        const leader = running.find((m) => m.memberId !== '' && leaderIds.has(m.memberId));
        if (leaderIds.size !== 1 || !leader) {
          note(
            `leaders seen: ${running.map((m, i) => `${m.name} -> ${this.#nameOf(statuses[i]?.leaderId)}`).join(', ')}`,
          );
          return undefined;
        }
        const health = await Promise.all(
          running.map((m) =>
            readHealth(m.clientUrl, { timeoutMs, fetch: this.#fetch }).catch(() => undefined),
          ),
        );
        const sick = running.filter((_, i) => !health[i]?.healthy);
        if (sick.length > 0) {
          const why = (i: number) => (health[i] ? `unhealthy (${health[i].reason})` : 'no answer');
          note(sick.map((m) => `${m.name}: ${why(running.indexOf(m))}`).join(', '));
          return undefined;
        }
        return leader;
      },
      { timeoutMs, code: 'ETCD_TIMEOUT', what: `a healthy etcd cluster (${this.#describeStates()})` },
    );
  }

  /** See {@link EtcdCluster.leader}. */
  async leader(timeoutMs = 5_000): Promise<EtcdMember> {
    const quorum = Math.floor(this.#members.length / 2) + 1;
    return pollUntil(
      async (remainingMs, note) => {
        const running = this.#members.filter((m) => m.state === 'running');
        const timeoutMs = Math.min(PROBE_TIMEOUT_MS, remainingMs);
        const statuses = (await Promise.all(running.map((m) => this.#status(m, timeoutMs)))).filter(
          (s): s is EtcdStatus => s !== undefined,
        );
        for (const candidate of running) {
          const claims = statuses.some(
            (s) => s.memberId === candidate.memberId && s.leaderId === candidate.memberId,
          );
          const votes = statuses.filter((s) => s.leaderId === candidate.memberId).length;
          if (claims && votes >= quorum) return candidate;
        }
        note(
          `${statuses.length} of ${running.length} running members answered; leaders seen: ${statuses.map((s) => this.#nameOf(s.leaderId)).join(', ')}`,
        );
        return undefined;
      },
      { timeoutMs, code: 'ETCD_TIMEOUT', what: 'an etcd leader', intervalMs: 25 },
    );
  }

  /** Running members that say they lead (at most one, unless one is cut off and has not noticed yet). */
  async selfClaimedLeaders(): Promise<Set<MemberProcess>> {
    const running = this.#members.filter((m) => m.state === 'running');
    const statuses = await Promise.all(running.map((m) => this.#status(m, 300)));
    return new Set(
      running.filter((m, i) => statuses[i] !== undefined && statuses[i].leaderId === m.memberId),
    );
  }

  /** A member's status (`POST /v3/maintenance/status`), or `undefined` when it does not answer in time. */
  async #status(m: MemberProcess, timeoutMs: number): Promise<EtcdStatus | undefined> {
    try {
      const status = await readStatus(m.clientUrl, { timeoutMs, fetch: this.#fetch });
      // A member's id is fixed by its peer URLs and the cluster token; learn it from its first answer.
      if (m.memberId === '') m.memberId = status.memberId;
      return status;
    } catch {
      return undefined;
    }
  }

  async #throwIfAnyExited(): Promise<void> {
    const exited = this.#members.find((m) => m.state === 'stopped');
    if (exited) throw await exitedError(exited);
  }

  #nameOf(id: string | undefined): string {
    if (id === undefined) return 'no answer';
    if (id === '0') return 'none';
    return this.#members.find((m) => m.memberId === id)?.name ?? id;
  }

  #describeStates(): string {
    return this.#members.map((m) => `${m.name} ${m.state}`).join(', ');
  }
}
