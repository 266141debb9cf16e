/**
 * What `GET /v1/events` pushes (packages/server/src/dashboard/live-snapshots.ts is the source of truth).
 * A copy, because this is browser code that cannot import the server: `packages/server/test/hand-copies.test.ts`
 * fails when these types and what a node really sends differ (the server's snapshot type must be assignable
 * to `Snapshot`, and every key of a real `hello` and `snapshot` event must be one listed here, and back);
 * the dashboard's browser test checks the page renders it.
 */
export interface NodeStatus {
  readonly id: string;
  readonly url: string;
  readonly version: string;
  readonly role: 'leader' | 'follower' | null;
  readonly startedAt: string;
  readonly heartbeatAgeMs: number;
  readonly healthy: boolean;
  readonly departed: boolean;
  readonly self: boolean;
}

export interface StoreMember {
  readonly name: string;
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly leader: boolean;
  readonly raftTerm?: number;
  readonly dbSizeBytes?: number;
  readonly error?: string;
}

export interface SeatUsage {
  readonly license: string;
  readonly feature: string;
  readonly seats: number;
  readonly inUse: number;
}

export interface StatsSummary {
  readonly requestsTotal: number;
  readonly errorsTotal: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

export interface Snapshot {
  readonly time: string;
  readonly node: string;
  readonly store: string;
  readonly nodeTtlMs: number;
  readonly nodes: readonly NodeStatus[];
  readonly storeMembers: readonly StoreMember[];
  readonly usage: readonly SeatUsage[];
  readonly stats: StatsSummary | null;
  readonly problems: readonly string[];
}

export interface Hello {
  readonly node: string;
  readonly scope: string;
  readonly intervalMs: number;
  /** Whether this token may force-release leases (the server's own route policy). */
  readonly canForceRelease: boolean;
}
