/**
 * What a scenario run measures: the `PARTITION_RESULT <json>` line main.ts prints, which partition.test.ts
 * asserts on. Lease operations are not in here: they go to the history file (history-file.ts) and the
 * checker judges them there.
 */

/** Files the scenario writes into its --dir for partition.test.ts. */
export const HISTORY_FILE = 'history.ndjson';
export const STORE_LEASES_FILE = 'store-leases.json';
/** The one pool the scenario's clients use (checker.ts's `license/feature`), and its seats. */
export const LICENSE_ID = 'lic-partition';
export const FEATURE = 'solver';
export const SEATS = 4;

export interface OpsStats {
  count: number;
  ok: number;
  seatsExhausted: number;
  leaseExpired: number;
  /** Calls that got no answer from the store's state, by `<status> <code or error>`. */
  failures: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export type Phase = 'before' | 'cut' | 'after';

export interface NodeAfterSettle {
  sent: number;
  failed: number;
  firstFailures: unknown[];
  maxMs: number;
  readyzNot200: number;
  readyzProbes: number;
}

export interface CommonResult {
  seats: number;
  /** The clients' seed (workload.ts): repeats their choices, not their timing. */
  seed: number;
  cutMs: number;
  droppedPackets: number;
  ops: Record<string, Record<Phase, OpsStats> & { grantsDuringCut: number }>;
  readyz: Record<string, Record<Phase, { answers: Record<string, number>; maxMs: number }>>;
  timeline: Record<string, string>;
  settleMs: number;
  afterSettle: Record<string, NodeAfterSettle>;
  outages: Record<string, { longestMs: number; streaks: number; longest?: unknown }>;
  invariants: {
    maxSeatsHeldSampled: number;
    seatSamples: number;
    grants: number;
  };
  server: { leasesRecorded: number; maxSlot: number; error?: string };
}

export interface LeaderResult extends CommonResult {
  scenario: 'leader';
  oldLeader: string;
  newLeader?: { name: string; ms: number };
  isolatedView: { stillClaimsLeadership?: boolean; leaderId?: string; raftTerm?: string; error?: string };
  healthyAfterHeal: { ms: number; leader?: string; error?: string };
  oldLeaderAfterHeal: { followsLeader?: boolean; isLeader?: boolean; raftTerm?: string; error?: string };
}

export interface NodeResult extends CommonResult {
  scenario: 'node';
  victim: string;
  seatsHeldAtCut: number;
  victimCalls: {
    sentDuringCut: number;
    byKind: Record<string, number>;
    succeeded: { kind: string; status: number | undefined; at: number }[];
    answers: Record<string, number>;
    maxAnswerMs: number;
    slowest: { kind: string; at: number; ms: number; code: string | undefined }[];
    inFlightAtCut: { kind: string; status: number | undefined; code: string | undefined; ms: number }[];
  };
  victimReadyz: {
    probesDuringCut: number;
    answers: Record<string, number>;
    maxAnswerMs: number;
    cutToFirst503Ms: number;
    healToReadyMs: number;
  };
  victimMembershipDuringCut: {
    listed?: boolean;
    healthy?: boolean;
    heartbeatAgeMs?: number;
    error?: string;
  };
  victimRejoinedMs: number;
  healToFirstAnswerMs: number;
  restartedNodes: string[];
}

export type ScenarioResult = LeaderResult | NodeResult;
