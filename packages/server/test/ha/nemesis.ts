import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdCluster, EtcdMember, NodeState } from '@leasehold/devtools';
import { type Fault, type FaultKind, type History, now, PROCESS_FAULT_KINDS } from './history.js';

/**
 * The nemesis of the fault run and the soak: cycles through its `kinds` with a gap between faults, until
 * `stopAt` (or `maxFaults`). Kinds (history.ts):
 * - `etcd-leader-kill` / `etcd-follower-kill`: SIGKILL, `downMs` dead, restart of that member;
 * - `node-kill`: SIGKILL, `downMs` dead, restart of a node (the nodes in turn);
 * - `etcd-pause` (the leader and a follower in turn) / `node-pause`: SIGSTOP for `pauseMs`, SIGCONT;
 * - `partition` (needs `cluster.network`): for `partitionMs`, in turn: a node cut from every etcd member,
 *   the etcd leader cut from the other members, a node cut from the etcd leader;
 * - `clock-step` (needs `cluster.clocks`): a node's wall clock stepped by +`clockStepMs`, then (next
 *   time) by -`clockStepMs`, for `clockHoldMs`, then back to true.
 * Each fault is recorded with its kind, target, start (signal sent, cut made, clock stepped), end (lifted)
 * and healed (cluster whole again). Every wait is bounded; a fault that cannot be injected or healed is
 * recorded in `errors` (the caller fails on it) and the cycle goes on. One nemesis injects one fault at a
 * time; the soak runs several side by side, each on its own targets (soak/soak-nemesis.ts).
 */

/** A node the nemesis can kill, pause and restart: devtools' NodeProcess, or the soak's NamespacedNode. */
export interface FaultableNode {
  readonly name: string;
  readonly url: string;
  readonly state: NodeState;
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  start(timeoutMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
}

/** Cuts between processes by name (`node-1`, `etcd2`), both directions; `heal` lifts every cut. */
export interface NetworkFaults {
  cut(a: readonly string[], b: readonly string[]): void;
  heal(): void;
}

/** Steps a node's wall clock to `offsetMs` from true; takes effect within `settleMs`. */
export interface ClockFaults {
  readonly settleMs: number;
  step(node: string, offsetMs: number): void;
}

/** What the nemesis acts on: a DevCluster fits; the soak adds its network and clocks. */
export interface NemesisCluster {
  readonly etcd: EtcdCluster;
  readonly nodes: readonly FaultableNode[];
  readonly network?: NetworkFaults;
  readonly clocks?: ClockFaults;
}

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
  /** The kinds to cycle through, in order; default the four process faults (the fault run's). */
  readonly kinds?: readonly FaultKind[];
  /** The nodes this nemesis may hit (default all): side-by-side nemeses split them. */
  readonly nodes?: readonly FaultableNode[];
  /** Bound on the number of faults; default 200. */
  readonly maxFaults?: number;
  /** How long a partition lasts; default 2000 ms. */
  readonly partitionMs?: number;
  /** The size of a clock step; default 2000 ms. */
  readonly clockStepMs?: number;
  /** How long a stepped clock stays stepped; default 3000 ms. */
  readonly clockHoldMs?: number;
}

export interface NemesisResult {
  readonly errors: string[];
}

const DEFAULT_MAX_FAULTS = 200;

export async function runNemesis(
  cluster: NemesisCluster,
  history: History,
  o: NemesisOptions,
): Promise<NemesisResult> {
  const errors: string[] = [];
  const kinds = o.kinds ?? PROCESS_FAULT_KINDS;
  const nodes = o.nodes ?? cluster.nodes;
  const partitionMs = o.partitionMs ?? 2000;
  const clockStepMs = o.clockStepMs ?? 2000;
  const clockHoldMs = o.clockHoldMs ?? 3000;
  const turns = { node: 0, etcdPause: 0, follower: 0, partition: 0, clock: 0 };
  const nextNode = () => nodes[turns.node++ % nodes.length] as FaultableNode;
  // A fault needs about this long from its start until the cluster has healed.
  const budget: Record<FaultKind, number> = {
    'etcd-leader-kill': o.downMs + 3000,
    'etcd-follower-kill': o.downMs + 3000,
    'node-kill': o.downMs + 3000,
    'etcd-pause': o.pauseMs + 2000,
    'node-pause': o.pauseMs + 2000,
    partition: partitionMs + 2000,
    'clock-step': clockHoldMs + 2000,
  };
  const maxFaults = o.maxFaults ?? DEFAULT_MAX_FAULTS;
  for (let i = 0; i < maxFaults; i++) {
    const kind = kinds[i % kinds.length] as FaultKind;
    if (now() + o.gapMs + budget[kind] > o.stopAt) break;
    await sleep(o.gapMs);
    try {
      let fault: Fault;
      switch (kind) {
        case 'etcd-leader-kill':
          fault = await killEtcd(cluster, 'leader', o);
          break;
        case 'etcd-follower-kill':
          fault = await killEtcd(cluster, turns.follower++, o);
          break;
        case 'node-kill':
          fault = await killNode(nextNode(), o);
          break;
        case 'etcd-pause':
          fault = await pauseEtcd(cluster, turns.etcdPause++ % 2 === 0, o);
          break;
        case 'node-pause':
          fault = await pauseNode(nextNode(), o);
          break;
        case 'partition':
          fault = await partition(cluster, turns.partition++, nodes, partitionMs, o);
          break;
        case 'clock-step': {
          const offset = turns.clock++ % 2 === 0 ? clockStepMs : -clockStepMs;
          fault = await stepClock(cluster, nextNode(), offset, clockHoldMs, o);
          break;
        }
      }
      history.addFault(fault);
      if (fault.healed === undefined)
        errors.push(`${kind} ${fault.target}: not healed within ${o.healTimeoutMs} ms`);
    } catch (err) {
      errors.push(`${kind}: ${(err as Error).message}`);
      await heal(cluster, nodes);
    }
  }
  return { errors };
}

/** `which`: the leader, or the n-th follower in turn (of the two a 3-member cluster has). */
async function killEtcd(
  cluster: NemesisCluster,
  which: 'leader' | number,
  o: NemesisOptions,
): Promise<Fault> {
  const member = await pickMember(cluster, which, o.healTimeoutMs);
  const start = now();
  await cluster.etcd.kill(member, 'SIGKILL');
  await sleep(o.downMs);
  await cluster.etcd.restart(member, { timeoutMs: o.healTimeoutMs });
  const end = now();
  const healed = await etcdHealthy(cluster, o.healTimeoutMs);
  return which === 'leader'
    ? { kind: 'etcd-leader-kill', target: `${member.name} (leader)`, start, end, healed }
    : { kind: 'etcd-follower-kill', target: `${member.name} (follower)`, start, end, healed };
}

async function pickMember(
  cluster: NemesisCluster,
  which: 'leader' | number,
  timeoutMs: number,
): Promise<EtcdMember> {
  if (which === 'leader') return cluster.etcd.leader(timeoutMs);
  const followers = await cluster.etcd.followers(timeoutMs);
  const member = followers[which % Math.max(1, followers.length)];
  if (!member) throw new Error('no etcd follower');
  return member;
}

async function pauseEtcd(cluster: NemesisCluster, leader: boolean, o: NemesisOptions): Promise<Fault> {
  const member = await pickMember(cluster, leader ? 'leader' : 0, o.healTimeoutMs);
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

async function killNode(node: FaultableNode, o: NemesisOptions): Promise<Fault> {
  const start = now();
  await node.kill('SIGKILL');
  await sleep(o.downMs);
  await node.start(o.healTimeoutMs);
  const end = now();
  const healed = await nodeReady(node, o.healTimeoutMs);
  return { kind: 'node-kill', target: node.name, start, end, healed };
}

async function pauseNode(node: FaultableNode, o: NemesisOptions): Promise<Fault> {
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

/** The partition shapes, in turn: a node from all of etcd, the etcd leader from its peers, a node from the leader. */
async function partition(
  cluster: NemesisCluster,
  turn: number,
  nodes: readonly FaultableNode[],
  holdMs: number,
  o: NemesisOptions,
): Promise<Fault> {
  const network = cluster.network;
  if (!network) throw new Error('partition: this cluster has no network faults (needs a network namespace)');
  const members = cluster.etcd.members.map((m) => m.name);
  const node = nodes[Math.floor(turn / 3) % nodes.length] as FaultableNode;
  let sides: [string[], string[]];
  if (turn % 3 === 0) sides = [[node.name], members];
  else {
    const leader = (await cluster.etcd.leader(o.healTimeoutMs)).name;
    sides = turn % 3 === 1 ? [[leader], members.filter((m) => m !== leader)] : [[node.name], [leader]];
  }
  const start = now();
  network.cut(...sides);
  try {
    await sleep(holdMs);
  } finally {
    network.heal();
  }
  const end = now();
  const etcd = await etcdHealthy(cluster, o.healTimeoutMs);
  const ready = etcd === undefined ? undefined : await nodeReady(node, o.healTimeoutMs);
  return {
    kind: 'partition',
    target: `${sides[0].join(',')} | ${sides[1].join(',')}`,
    start,
    end,
    healed: ready,
  };
}

async function stepClock(
  cluster: NemesisCluster,
  node: FaultableNode,
  offsetMs: number,
  holdMs: number,
  o: NemesisOptions,
): Promise<Fault> {
  const clocks = cluster.clocks;
  if (!clocks) throw new Error('clock-step: this cluster cannot step node clocks (needs libfaketime)');
  const start = now();
  clocks.step(node.name, offsetMs);
  try {
    await sleep(holdMs);
  } finally {
    clocks.step(node.name, 0);
  }
  const end = now();
  // The node reads the step back within settleMs; it may then refuse to sign (CLOCK_BEHIND) for a while.
  await sleep(clocks.settleMs);
  const healed = await nodeReady(node, o.healTimeoutMs);
  const sign = offsetMs > 0 ? '+' : '';
  return { kind: 'clock-step', target: `${node.name} ${sign}${offsetMs} ms`, start, end, healed };
}

async function etcdHealthy(cluster: NemesisCluster, timeoutMs: number): Promise<number | undefined> {
  try {
    await cluster.etcd.waitHealthy(timeoutMs);
    return now();
  } catch {
    return undefined;
  }
}

/** Polls /readyz (store reachable) until 200; the instant it answered, or undefined after `timeoutMs`. */
export async function nodeReady(
  node: { readonly url: string },
  timeoutMs: number,
): Promise<number | undefined> {
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

/**
 * After a failed fault: heal the network, true clocks, continue anything paused, start anything stopped
 * (of etcd, and of this nemesis's `nodes`: a nemesis beside it may be pausing another).
 */
async function heal(cluster: NemesisCluster, nodes: readonly FaultableNode[]): Promise<void> {
  try {
    cluster.network?.heal();
  } catch {
    // Best effort; the next partition's heal tries again.
  }
  for (const n of nodes) {
    try {
      cluster.clocks?.step(n.name, 0);
    } catch {
      // Best effort.
    }
  }
  for (const m of cluster.etcd.members) {
    if (m.state === 'paused') await cluster.etcd.resume(m).catch(() => undefined);
    if (m.state === 'stopped') await cluster.etcd.restart(m).catch(() => undefined);
  }
  for (const n of nodes) {
    if (n.state === 'paused') n.resume();
    if (n.state === 'stopped') await n.start().catch(() => undefined);
  }
}
