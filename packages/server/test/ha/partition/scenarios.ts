import { setTimeout as sleep } from 'node:timers/promises';
import { type EtcdCluster, readStatus } from '@leasehold/devtools';
import { type History, now, type Op } from '../history.js';
import { answered, answerOf, common, countBy, msOf, okOp, type PartitionRun, round } from './measurements.js';
import { cut, droppedPackets, ETCD_HOSTS, heal, NODE_HOSTS } from './namespace.js';
import type { NamespacedNode } from './processes.js';
import type { CommonResult, LeaderResult, NodeResult } from './result.js';
import { SEATS } from './result.js';
import {
  CLIENTS_PER_NODE,
  call,
  isOk,
  type Probe,
  probeReady,
  type SeatSample,
  sampleSeats,
  startClients,
} from './traffic.js';

/** The two partitions: the etcd leader isolated from everyone, and one node cut off from every member. */

export interface ScenarioContext {
  readonly etcd: EtcdCluster;
  readonly nodes: readonly NamespacedNode[];
  readonly history: History;
  readonly token: string;
  readonly seed: number;
  readonly warmupMs: number;
  readonly cutMs: number;
  readonly afterMs: number;
  readonly log: (message: string) => void;
}

interface Cut<D, A> {
  readonly pairs: readonly (readonly [string, string])[];
  readonly describe: string;
  /** Nodes cut off from etcd: the seat sampler goes through the others. */
  readonly cutOffNodes?: readonly string[];
  readonly duringCut: (cutAt: number) => Promise<D>;
  readonly afterHeal?: (healAt: number) => Promise<A>;
}

interface RunWith<D, A> extends PartitionRun {
  readonly during: D;
  readonly afterHeal: A | undefined;
  readonly healthyAfter: LeaderResult['healthyAfterHeal'];
}

/**
 * Runs the workload (clients pinned to every node, a seat sampler, a /readyz prober per node) for the
 * warm-up, then installs the cut that `chooseCut()` describes, holds it for cutMs, heals and runs on for
 * afterMs. `duringCut` runs right after the cut is installed.
 */
async function runWithPartition<D, A>(
  ctx: ScenarioContext,
  chooseCut: () => Cut<D, A>,
): Promise<RunWith<D, A>> {
  const { nodes, log } = ctx;
  const stopAt = now() + ctx.warmupMs + ctx.cutMs + ctx.afterMs;
  const clients = startClients(nodes, ctx.history, { token: ctx.token, stopAt, seed: ctx.seed });
  const samples: SeatSample[] = [];
  const probes: Probe[] = [];
  const cutOff = new Set<string>();
  let turn = 0;
  const pick = () => {
    const usable = nodes.filter((n) => !cutOff.has(n.name));
    return usable[turn++ % usable.length] ?? nodes[0]!;
  };
  const background = [
    sampleSeats(ctx.token, pick, stopAt, samples),
    ...nodes.map((n) => probeReady(ctx.token, n, stopAt, probes)),
  ];

  await sleep(ctx.warmupMs);
  const partition = chooseCut();
  log(`cut: ${partition.describe}`);
  for (const name of partition.cutOffNodes ?? []) cutOff.add(name);
  cut(partition.pairs);
  const cutAt = now();
  const during = await partition.duringCut(cutAt);
  const left = cutAt + ctx.cutMs - now();
  if (left > 0) await sleep(left);
  const dropped = droppedPackets();
  heal();
  const healAt = now();
  log(`healed after ${round(healAt - cutAt)} ms (${dropped} packets dropped by the partition rules)`);
  const healthyAfter: LeaderResult['healthyAfterHeal'] = await ctx.etcd.waitHealthy(20_000).then(
    (leader) => ({ ms: round(now() - healAt), leader: leader.name }),
    (err: unknown) => ({ ms: -1, error: String((err as Error)?.message ?? err) }),
  );
  log(`etcd healthy again ${healthyAfter.ms} ms after the heal (leader ${healthyAfter.leader})`);
  const afterHeal = partition.afterHeal ? await partition.afterHeal(healAt) : undefined;
  await Promise.all([clients, ...background]);
  return {
    cutAt,
    healAt,
    endAt: now(),
    dropped,
    ops: ctx.history.ops,
    probes,
    samples,
    during,
    afterHeal,
    healthyAfter,
  };
}

type Server = CommonResult['server'];

export async function leaderScenario(
  ctx: ScenarioContext,
  server: () => Promise<Server>,
): Promise<LeaderResult> {
  const { etcd, log } = ctx;
  const oldLeader = await etcd.leader(5000);
  const others = ETCD_HOSTS.filter((h) => h !== oldLeader.host);
  log(`etcd leader is ${oldLeader.name} (${oldLeader.host})`);
  const isolatedFrom = [...others, ...NODE_HOSTS];
  const run = await runWithPartition(ctx, () => ({
    pairs: isolatedFrom.map((h) => [oldLeader.host, h] as const),
    describe: `isolate etcd leader ${oldLeader.name} (${oldLeader.host}) from ${isolatedFrom.join(', ')}`,
    duringCut: async (cutAt: number) => {
      // The majority elects a new leader; the isolated one steps down (CheckQuorum) without disrupting it.
      let newLeader: { name: string; ms: number } | undefined;
      for (let i = 0; i < 100 && now() - cutAt < 8000; i++) {
        const l = await etcd.leader(1000).catch(() => undefined);
        if (l && l.name !== oldLeader.name) {
          newLeader = { name: l.name, ms: round(now() - cutAt) };
          break;
        }
        await sleep(25);
      }
      log(`new leader: ${newLeader ? `${newLeader.name} after ${newLeader.ms} ms` : 'NONE within 8 s'}`);
      await sleep(Math.max(0, 3000 - (now() - cutAt)));
      const isolatedView: LeaderResult['isolatedView'] = await readStatus(oldLeader.clientUrl, {
        timeoutMs: 1000,
      }).then(
        (s) => ({
          stillClaimsLeadership: s.leaderId === s.memberId,
          leaderId: s.leaderId,
          raftTerm: s.raftTerm,
        }),
        (err: unknown) => ({ error: String((err as Error)?.message ?? err) }),
      );
      log(`the isolated member's own view 3 s into the cut: ${JSON.stringify(isolatedView)}`);
      return { newLeader, isolatedView };
    },
  }));
  const rejoined: LeaderResult['oldLeaderAfterHeal'] = await readStatus(oldLeader.clientUrl, {
    timeoutMs: 1000,
  }).then(
    (s) => ({ followsLeader: s.leaderId !== '0', isLeader: s.leaderId === s.memberId, raftTerm: s.raftTerm }),
    (err: unknown) => ({ error: String((err as Error)?.message ?? err) }),
  );
  return {
    scenario: 'leader',
    oldLeader: oldLeader.name,
    ...(run.during.newLeader ? { newLeader: run.during.newLeader } : {}),
    isolatedView: run.during.isolatedView,
    healthyAfterHeal: run.healthyAfter,
    oldLeaderAfterHeal: rejoined,
    ...common(ctx.nodes, run, { seats: SEATS, seed: ctx.seed, server: await server() }),
  };
}

/**
 * Per node, the leases its clients hold at `t` as the history shows them: granted, not checked in, and
 * still within the latest expiry a grant or renewal answered.
 */
export function heldAt(ops: readonly Op[], t: number): Map<string, number> {
  const leases = new Map<string, { node: string; expiresAt: number; checkedIn: boolean }>();
  for (const op of ops) {
    if (op.leaseId === undefined || op.call > t) continue;
    const lease = leases.get(op.leaseId);
    if (op.kind === 'checkin') {
      if (lease) lease.checkedIn = true;
    } else if (okOp(op) && op.ret <= t && op.expiresAt !== undefined) {
      if (lease) lease.expiresAt = Math.max(lease.expiresAt, op.expiresAt);
      else if (op.kind === 'checkout') {
        leases.set(op.leaseId, { node: op.node, expiresAt: op.expiresAt, checkedIn: false });
      }
    }
  }
  const held = new Map<string, number>();
  for (const l of leases.values()) {
    if (!l.checkedIn && l.expiresAt > t) held.set(l.node, (held.get(l.node) ?? 0) + 1);
  }
  return held;
}

/** The victim's entry in /v1/cluster as `through` sees it: absent, or its heartbeat age and health. */
async function membershipOf(
  token: string,
  victim: NamespacedNode,
  through: NamespacedNode,
): Promise<NodeResult['victimMembershipDuringCut']> {
  const r = await call(token, 'GET', `${through.url}/v1/cluster`, undefined, 3000);
  if (!isOk(r)) return { error: `${r.status} ${r.code ?? ''}` };
  const view = r.body as { nodes: { id: string; healthy: boolean; heartbeatAgeMs: number }[] };
  const entry = view.nodes.find((n) => n.id === victim.name);
  return entry
    ? { listed: true, healthy: entry.healthy, heartbeatAgeMs: entry.heartbeatAgeMs }
    : { listed: false };
}

export async function nodeScenario(ctx: ScenarioContext, server: () => Promise<Server>): Promise<NodeResult> {
  const { nodes, log, token } = ctx;
  const pidsBefore = new Map(nodes.map((n) => [n.name, n.pid]));
  let chosen: { victim: NamespacedNode; witness: NamespacedNode; seatsHeld: number } | undefined;
  const run = await runWithPartition(ctx, () => {
    // The node to cut: one whose clients hold a seat (so renewals are refused) and wait for one (so
    // checkouts are), preferring the one holding most. With 4 seats and 3 clients a node, one exists.
    const held = heldAt(ctx.history.ops, now());
    const count = (n: NamespacedNode) => held.get(n.name) ?? 0;
    const victim =
      [...nodes]
        .sort((a, b) => count(b) - count(a))
        .find((n) => count(n) > 0 && count(n) < CLIENTS_PER_NODE) ?? nodes[1]!;
    const witness = nodes.find((n) => n !== victim)!;
    chosen = { victim, witness, seatsHeld: count(victim) };
    return {
      cutOffNodes: [victim.name],
      pairs: ETCD_HOSTS.map((h) => [victim.host, h] as const),
      describe: `cut ${victim.name} (${victim.host}, ${count(victim)} of its clients hold seats) off from etcd ${ETCD_HOSTS.join(', ')}`,
      duringCut: async (cutAt: number) => {
        // Past the node TTL (3 s) plus a heartbeat: the others no longer count it as a live member.
        await sleep(Math.max(0, Math.min(ctx.cutMs - 500, 5000) - (now() - cutAt)));
        const m = await membershipOf(token, victim, witness);
        log(
          `${victim.name} as ${witness.name} sees it ${round(now() - cutAt)} ms into the cut: ${JSON.stringify(m)}`,
        );
        return m;
      },
      afterHeal: async (healAt: number) => {
        // It rejoins by itself: a new heartbeat lease at its next heartbeat (docs/ha.md).
        for (let i = 0; i < 100 && now() - healAt < 15_000; i++) {
          const m = await membershipOf(token, victim, witness);
          if (m.listed && m.healthy) return round(now() - healAt);
          await sleep(200);
        }
        return -1;
      },
    };
  });
  if (!chosen) throw new Error('no victim was chosen');
  const { victim } = chosen;
  const { cutAt, healAt, probes } = run;
  const victimOps = run.ops.filter((o) => o.node === victim.name);
  // Calls sent after the cut was installed and answered before the heal: the node had no store at all.
  const cutOff = victimOps.filter((o) => o.call >= cutAt && o.ret < healAt);
  const probesCut = probes.filter((p) => p.node === victim.name && p.call >= cutAt && p.ret < healAt);
  const firstReady503 = probesCut.find((p) => p.status === 503);
  const firstReadyAfterHeal = probes.find(
    (p) => p.node === victim.name && p.call >= healAt && p.status === 200,
  );
  const firstAnswerAfterHeal = victimOps
    .filter((o) => o.call >= healAt && answered(o))
    .sort((a, b) => a.ret - b.ret)[0];
  return {
    scenario: 'node',
    victim: victim.name,
    seatsHeldAtCut: chosen.seatsHeld,
    victimCalls: {
      sentDuringCut: cutOff.length,
      byKind: countBy(cutOff, (o) => o.kind),
      succeeded: cutOff
        .filter(okOp)
        .map((o) => ({ kind: o.kind, status: o.status, at: round(o.call - cutAt) })),
      answers: countBy(cutOff, (o) => `${o.kind} ${answerOf(o)} retryable=${o.retryable}`),
      maxAnswerMs: round(Math.max(0, ...cutOff.map(msOf))),
      slowest: [...cutOff]
        .sort((a, b) => msOf(b) - msOf(a))
        .slice(0, 3)
        .map((o) => ({
          kind: o.kind,
          at: round(o.call - cutAt),
          ms: round(msOf(o)),
          code: o.code ?? o.error,
        })),
      // Sent before the cut, answered after it: in flight when the cable was pulled.
      inFlightAtCut: victimOps
        .filter((o) => o.call < cutAt && o.ret >= cutAt)
        .map((o) => ({ kind: o.kind, status: o.status, code: o.code ?? o.error, ms: round(msOf(o)) })),
    },
    victimReadyz: {
      probesDuringCut: probesCut.length,
      answers: countBy(probesCut, (p) => `${p.status} ${p.code ?? ''}`.trim()),
      maxAnswerMs: round(Math.max(0, ...probesCut.map(msOf))),
      cutToFirst503Ms: firstReady503 ? round(firstReady503.ret - cutAt) : -1,
      healToReadyMs: firstReadyAfterHeal ? round(firstReadyAfterHeal.ret - healAt) : -1,
    },
    victimMembershipDuringCut: run.during,
    victimRejoinedMs: run.afterHeal ?? -1,
    healToFirstAnswerMs: firstAnswerAfterHeal ? round(firstAnswerAfterHeal.ret - healAt) : -1,
    restartedNodes: nodes.filter((n) => n.exited || n.pid !== pidsBefore.get(n.name)).map((n) => n.name),
    ...common(nodes, run, { seats: SEATS, seed: ctx.seed, server: await server() }),
  };
}
