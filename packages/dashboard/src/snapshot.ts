/**
 * What `GET /v1/events` pushes: the one definition of that wire shape. It lives here, in browser code with
 * no imports, because the dashboard cannot import the server while the server (which serves this package)
 * can import it: packages/server/src/dashboard/ builds its snapshots with these types.
 * `packages/server/test/hand-copies.test.ts` fails when a real `hello` or `snapshot` event carries a key
 * not listed here, or lacks one; the dashboard's browser test checks the page renders it.
 */
/** One node as the dashboard shows it. */
export interface NodeStatus {
  readonly id: string;
  readonly url: string;
  readonly version: string;
  /** leader: runs the singleton background work; `null` once the node is down (it leads nothing). */
  readonly role: 'leader' | 'follower' | null;
  readonly startedAt: string;
  readonly heartbeatAgeMs: number;
  readonly healthy: boolean;
  /** Its record is gone from the store: its heartbeat lease ran out (crash, SIGKILL, partition). */
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

/** The shape of the server's `app.metrics.summary()` (packages/server/src/observability). */
export interface StatsSummary {
  readonly requestsTotal: number;
  readonly errorsTotal: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

/** One self-contained picture, so a missed one costs nothing. */
export interface Snapshot {
  readonly time: string;
  readonly node: string;
  readonly store: string;
  readonly nodeTtlMs: number;
  readonly nodes: readonly NodeStatus[];
  readonly storeMembers: readonly StoreMember[];
  readonly usage: readonly SeatUsage[];
  /** The node's request counters and latency; null while the node has no metrics. */
  readonly stats: StatsSummary | null;
  /** Parts that could not be read this round (e.g. `usage: STORE_UNAVAILABLE`); shown, not hidden. */
  readonly problems: readonly string[];
}

export interface Hello {
  readonly node: string;
  readonly scope: string;
  readonly intervalMs: number;
  /** Whether this token may force-release leases (the server's own route policy). */
  readonly canForceRelease: boolean;
}
