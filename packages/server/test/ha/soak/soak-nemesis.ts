import type { FaultKind, History } from '../history.js';
import { type NemesisCluster, type NemesisResult, runNemesis } from '../nemesis.js';

/**
 * The soak's nemesis: the fault run's (../nemesis.ts) twice, side by side, so that faults overlap and a
 * thousand of them fit in 30 minutes (one every 1.8 s; one nemesis alone, one fault at a time with the
 * healing waited out, injects about one every 3-4 s here):
 *
 * - **etcd and network**: etcd leader SIGKILL, partitions, etcd SIGSTOP (leader and follower in turn), etcd
 *   follower SIGKILL. One etcd member at a time, so a quorum is only ever lost by a fault of the other lane
 *   (none touches etcd) — never, by design.
 * - **nodes**: node SIGKILL, clock steps (+2 s, then -2 s next time), node SIGSTOP, the nodes in turn. One
 *   node at a time here; a partition of the other lane may cut a second one from etcd meanwhile, so at
 *   least one node always serves.
 *
 * Faults are short (0.5 s dead, 1 s stopped, 1.5 s cut, 2 s stepped) and each lane waits for the cluster
 * to heal (bounded) before its next fault. Bounded by count (MAX_FAULTS_PER_LANE) and by `stopAt`.
 */
export const CLOCK_STEP_MS = 2000;
const MAX_FAULTS_PER_LANE = 2000;

export const SOAK_LANES: readonly { readonly name: string; readonly kinds: readonly FaultKind[] }[] = [
  {
    name: 'etcd and network',
    kinds: ['etcd-leader-kill', 'partition', 'etcd-pause', 'partition', 'etcd-follower-kill', 'partition'],
  },
  { name: 'nodes', kinds: ['node-kill', 'clock-step', 'node-pause', 'clock-step'] },
];

/**
 * The lanes limited to `only` (the soak's `--faults`), lanes left with no kind dropped; every lane when
 * `only` is undefined. Throws on a kind no lane injects.
 */
export function soakLanes(only?: readonly string[]): typeof SOAK_LANES {
  if (only === undefined) return SOAK_LANES;
  const known = new Set(SOAK_LANES.flatMap((l) => l.kinds));
  const unknown = only.filter((k) => !known.has(k as FaultKind));
  if (unknown.length > 0 || only.length === 0) {
    throw new Error(
      `--faults: give some of ${[...known].join(', ')}; unknown: ${unknown.join(', ') || 'none given'}`,
    );
  }
  return SOAK_LANES.map((l) => ({ ...l, kinds: l.kinds.filter((k) => only.includes(k)) })).filter(
    (l) => l.kinds.length > 0,
  );
}

export async function runSoakNemesis(
  cluster: NemesisCluster,
  history: History,
  stopAt: number,
  lanes: typeof SOAK_LANES = SOAK_LANES,
): Promise<NemesisResult> {
  const results = await Promise.all(
    lanes.map((lane) =>
      runNemesis(cluster, history, {
        stopAt,
        kinds: lane.kinds,
        gapMs: 300,
        downMs: 500,
        pauseMs: 1000,
        partitionMs: 1500,
        clockStepMs: CLOCK_STEP_MS,
        clockHoldMs: 2000,
        healTimeoutMs: 15_000,
        maxFaults: MAX_FAULTS_PER_LANE,
      }),
    ),
  );
  return { errors: results.flatMap((r, i) => r.errors.map((e) => `${lanes[i]?.name}: ${e}`)) };
}
