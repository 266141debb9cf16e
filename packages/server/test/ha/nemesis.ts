import { setTimeout as sleep } from 'node:timers/promises';
import type { DevCluster, EtcdMember, NodeProcess } from '@leasehold/devtools';
import { FAULT_KINDS, type Fault, type FaultKind, type History, now } from './history.js';

/**
 * The fault run's nemesis: cycles through SIGKILL + restart of the etcd leader, SIGKILL + restart of a
 * node, SIGSTOP/SIGCONT of an etcd member (the leader and a follower in turn) and SIGSTOP/SIGCONT of a
 * node, with a gap between faults, until `stopAt`. Each fault is recorded with its kind, target, start
 * (signal sent), end (lifted) and healed (cluster whole again). Every wait is bounded; a fault that cannot
 * be injected or healed is recorded in `errors` (the test fails on it) and the cycle goes on.
 */
export interface NemesisOptions {
  /** Date.now() after which no new fault starts. */
  readonly stopAt: number;
  /** Quiet time before each fault. */
  readonly gapMs: number;
  /** How long a killed process stays dead before its restart. */
  readonly downMs: number;
  /** How long a paused process stays stopped. */
  readonly pauseMs: number;
  /** Bound on waiting for etcd health / node readiness after a fault. */
  readonly healTimeoutMs: number;
}

export interface NemesisResult {
  readonly errors: string[];
}

const MAX_FAULTS = 200;

export async function runNemesis(
  cluster: DevCluster,
  history: History,
  o: NemesisOptions,
): Promise<NemesisResult> {
  const errors: string[] = [];
  let nodeTurn = 0;
  let etcdPauseTurn = 0;
  // A fault needs about this long from its start until the cluster has healed.
  const budget: Record<FaultKind, number> = {
    'etcd-leader-kill': o.downMs + 3000,
    'node-kill': o.downMs + 3000,
    'etcd-pause': o.pauseMs + 2000,
    'node-pause': o.pauseMs + 2000,
  };
  for (let i = 0; i < MAX_FAULTS; i++) {
    const kind = FAULT_KINDS[i % FAULT_KINDS.length] as FaultKind;
    if (now() + o.gapMs + budget[kind] > o.stopAt) break;
    await sleep(o.gapMs);
    try {
      const fault =
        kind === 'etcd-leader-kill'
          ? await killEtcdLeader(cluster, o)
          : kind === 'node-kill'
            ? await killNode(cluster.nodes[nodeTurn++ % cluster.nodes.length] as NodeProcess, o)
            : kind === 'etcd-pause'
              ? await pauseEtcd(cluster, etcdPauseTurn++ % 2 === 0, o)
              : await pauseNode(cluster.nodes[nodeTurn++ % cluster.nodes.length] as NodeProcess, o);
      history.addFault(fault);
      if (fault.healed === undefined)
        errors.push(`${kind} ${fault.target}: not healed within ${o.healTimeoutMs} ms`);
    } catch (err) {
      errors.push(`${kind}: ${(err as Error).message}`);
      await heal(cluster);
    }
  }
  return { errors };
}

async function killEtcdLeader(cluster: DevCluster, o: NemesisOptions): Promise<Fault> {
  const leader = await cluster.etcd.leader(o.healTimeoutMs);
  const start = now();
  await cluster.etcd.kill(leader, 'SIGKILL');
  await sleep(o.downMs);
  await cluster.etcd.restart(leader, { timeoutMs: o.healTimeoutMs });
  const end = now();
  const healed = await etcdHealthy(cluster, o.healTimeoutMs);
  return { kind: 'etcd-leader-kill', target: `${leader.name} (leader)`, start, end, healed };
}

async function pauseEtcd(cluster: DevCluster, leader: boolean, o: NemesisOptions): Promise<Fault> {
  const member: EtcdMember | undefined = leader
    ? await cluster.etcd.leader(o.healTimeoutMs)
    : (await cluster.etcd.followers(o.healTimeoutMs))[0];
  if (!member) throw new Error('no etcd follower to pause');
  const start = now();
  await cluster.etcd.pause(member);
  try {
    await sleep(o.pauseMs);
  } finally {
    await cluster.etcd.resume(member);
  }
  const end = now();
  const healed = await etcdHealthy(cluster, o.healTimeoutMs);
  return {
    kind: 'etcd-pause',
    target: `${member.name} (${leader ? 'leader' : 'follower'})`,
    start,
    end,
    healed,
  };
}

async function killNode(node: NodeProcess, o: NemesisOptions): Promise<Fault> {
  const start = now();
  await node.kill('SIGKILL');
  await sleep(o.downMs);
  await node.start(o.healTimeoutMs);
  const end = now();
  const healed = await nodeReady(node, o.healTimeoutMs);
  return { kind: 'node-kill', target: node.name, start, end, healed };
}

async function pauseNode(node: NodeProcess, o: NemesisOptions): Promise<Fault> {
  const start = now();
  node.pause();
  try {
    await sleep(o.pauseMs);
  } finally {
    node.resume();
  }
  const end = now();
  const healed = await nodeReady(node, o.healTimeoutMs);
  return { kind: 'node-pause', target: node.name, start, end, healed };
}

async function etcdHealthy(cluster: DevCluster, timeoutMs: number): Promise<number | undefined> {
  try {
    await cluster.etcd.waitHealthy(timeoutMs);
    return now();
  } catch {
    return undefined;
  }
}

/** Polls /readyz (store reachable) until 200; the instant it answered, or undefined after `timeoutMs`. */
export async function nodeReady(node: NodeProcess, timeoutMs: number): Promise<number | undefined> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const ok = await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return now();
    await sleep(100);
  }
  return undefined;
}

/** After a failed fault: continue anything paused and start anything stopped. Best effort. */
async function heal(cluster: DevCluster): Promise<void> {
  for (const m of cluster.etcd.members) {
    if (m.state === 'paused') await cluster.etcd.resume(m).catch(() => undefined);
    if (m.state === 'stopped') await cluster.etcd.restart(m).catch(() => undefined);
  }
  for (const n of cluster.nodes) {
    if (n.state === 'paused') n.resume();
    if (n.state === 'stopped') await n.start().catch(() => undefined);
  }
}
