import type { NodeRef, Op } from '../history.js';
import type { CommonResult, OpsStats, Phase } from './result.js';
import type { Probe, SeatSample } from './traffic.js';

/**
 * What the scenario measures from its history and probes: latency and failures per node and phase, a
 * per-second timeline, outages, /readyz answers. Whether seats or leases were ever wrong is not measured
 * here: partition.test.ts gives the history to checker.ts.
 */

/** What the scenario saw of one partition: the cut's instants and everything recorded around them. */
export interface PartitionRun {
  readonly cutAt: number;
  readonly healAt: number;
  readonly endAt: number;
  readonly dropped: number;
  readonly ops: readonly Op[];
  readonly probes: readonly Probe[];
  readonly samples: readonly SeatSample[];
}

/** What a partition may cost a node that still reaches a quorum: calls sent later than this after the cut
 * should all succeed (an etcd election with 50/500 ms timing takes ~0.5-1 s; DESIGN.md "etcd facts"). */
export const SETTLE_MS = 3000;

export const round = (ms: number): number => Math.round(ms);
export const msOf = (o: { readonly call: number; readonly ret: number }): number => o.ret - o.call;
export const okOp = (op: Op): boolean => op.outcome === 'ok';
/**
 * The node decided, with its store: a grant or renewal, or a refusal the store's state justifies (every
 * seat taken; a renewal that arrived after its lease ran out, e.g. one sent during a partition). Anything
 * else (503, timeouts) is a failure to answer.
 */
const ANSWERS = new Set(['SEATS_EXHAUSTED', 'LEASE_EXPIRED']);
export const answered = (op: Op): boolean =>
  okOp(op) || (op.outcome === 'fail' && op.code !== undefined && ANSWERS.has(op.code));
/** `<status> <code>`, or `0 <error>` for a call that got no answer. */
export const answerOf = (op: Op): string => `${op.status ?? 0} ${op.code ?? op.error ?? ''}`.trim();

const phaseOf = (o: { readonly call: number }, cutAt: number, healAt: number): Phase =>
  o.call < cutAt ? 'before' : o.call < healAt ? 'cut' : 'after';

export function countBy<T>(list: readonly T[], key: (x: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const x of list) counts[key(x)] = (counts[key(x)] ?? 0) + 1;
  return counts;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);

function latencyStats(list: readonly Op[]): OpsStats {
  const ms = list.map(msOf).sort((a, b) => a - b);
  return {
    count: list.length,
    ok: list.filter(okOp).length,
    seatsExhausted: list.filter((o) => o.code === 'SEATS_EXHAUSTED').length,
    leaseExpired: list.filter((o) => o.code === 'LEASE_EXPIRED').length,
    failures: countBy(
      list.filter((o) => !answered(o)),
      answerOf,
    ),
    p50Ms: round(percentile(ms, 50)),
    p95Ms: round(percentile(ms, 95)),
    maxMs: round(ms.at(-1) ?? 0),
  };
}

/** Checkouts and renewals through `node` (check-ins are bookkeeping, not service). */
const served = (ops: readonly Op[], node: string): Op[] =>
  ops.filter((o) => o.node === node && o.kind !== 'checkin');

function opsReport(nodes: readonly NodeRef[], run: PartitionRun): CommonResult['ops'] {
  const report: CommonResult['ops'] = {};
  for (const n of nodes) {
    const mine = served(run.ops, n.name);
    const phase = (p: Phase) => latencyStats(mine.filter((o) => phaseOf(o, run.cutAt, run.healAt) === p));
    report[n.name] = {
      before: phase('before'),
      cut: phase('cut'),
      after: phase('after'),
      grantsDuringCut: mine.filter(
        (o) => o.kind === 'checkout' && okOp(o) && o.call >= run.cutAt && o.ret < run.healAt,
      ).length,
    };
  }
  return report;
}

/** /readyz answers per node and phase. */
function readyzReport(nodes: readonly NodeRef[], run: PartitionRun): CommonResult['readyz'] {
  const report: CommonResult['readyz'] = {};
  for (const n of nodes) {
    const mine = run.probes.filter((p) => p.node === n.name);
    const phase = (name: Phase) => {
      const list = mine.filter((p) => phaseOf(p, run.cutAt, run.healAt) === name);
      return {
        answers: countBy(list, (p) => `${p.status} ${p.code ?? ''}`.trim()),
        maxMs: round(Math.max(0, ...list.map(msOf))),
      };
    };
    report[n.name] = { before: phase('before'), cut: phase('cut'), after: phase('after') };
  }
  return report;
}

/**
 * Per node, one string per second from the cut on (by send time): `answered/failed` checkouts and
 * renewals, so a report shows whether failures stop after the election or last as long as the partition.
 */
function timeline(nodes: readonly NodeRef[], run: PartitionRun): Record<string, string> {
  const seconds = Math.ceil((run.endAt - run.cutAt) / 1000);
  const out: Record<string, string> = {};
  for (const n of nodes) {
    const mine = served(run.ops, n.name).filter((o) => o.call >= run.cutAt);
    out[n.name] = Array.from({ length: seconds }, (_, i) => {
      const inSecond = mine.filter((o) => Math.floor((o.call - run.cutAt) / 1000) === i);
      const good = inSecond.filter(answered).length;
      return `${good}/${inSecond.length - good}`;
    }).join(' ');
  }
  return out;
}

/** Per node, what happened to calls sent from SETTLE_MS after the cut until the heal. */
function afterSettle(nodes: readonly NodeRef[], run: PartitionRun): CommonResult['afterSettle'] {
  const from = run.cutAt + SETTLE_MS;
  const inWindow = (o: { readonly call: number }) => o.call >= from && o.call < run.healAt;
  const out: CommonResult['afterSettle'] = {};
  for (const n of nodes) {
    const mine = served(run.ops, n.name).filter(inWindow);
    const failed = mine.filter((o) => !answered(o));
    const probes = run.probes.filter((p) => p.node === n.name && inWindow(p));
    out[n.name] = {
      sent: mine.length,
      failed: failed.length,
      firstFailures: failed.slice(0, 3).map((o) => ({
        kind: o.kind,
        at: round(o.call - run.cutAt),
        ms: round(msOf(o)),
        answer: answerOf(o),
      })),
      maxMs: round(Math.max(0, ...mine.map(msOf))),
      readyzNot200: probes.filter((p) => p.status !== 200).length,
      readyzProbes: probes.length,
    };
  }
  return out;
}

interface Streak {
  readonly client: string;
  readonly node: string;
  readonly from: number;
  readonly ms: number;
  readonly failed: number;
  readonly ended: boolean;
}

/**
 * Per client, runs of consecutive failed checkouts/renewals (see `answered`): from the first failed call's
 * send to the answer of the next successful one (or the end of the run).
 */
function failureStreaks(ops: readonly Op[], endAt: number): Streak[] {
  const byClient = new Map<string, Op[]>();
  for (const o of ops) {
    if (o.kind === 'checkin') continue;
    const list = byClient.get(o.client) ?? [];
    list.push(o);
    byClient.set(o.client, list);
  }
  const streaks: Streak[] = [];
  for (const [client, list] of byClient) {
    list.sort((a, b) => a.call - b.call);
    let start: number | undefined;
    let failed = 0;
    for (const o of list) {
      if (!answered(o)) {
        start ??= o.call;
        failed++;
      } else if (start !== undefined) {
        streaks.push({
          client,
          node: o.node,
          from: round(start),
          ms: round(o.ret - start),
          failed,
          ended: true,
        });
        start = undefined;
        failed = 0;
      }
    }
    if (start !== undefined) {
      const node = list[0]?.node ?? '';
      streaks.push({ client, node, from: round(start), ms: round(endAt - start), failed, ended: false });
    }
  }
  return streaks.sort((a, b) => b.ms - a.ms);
}

/** The figures every scenario reports; `server` and `seed` are the caller's. */
export function common(
  nodes: readonly NodeRef[],
  run: PartitionRun,
  extra: Pick<CommonResult, 'seats' | 'seed' | 'server'>,
): CommonResult {
  const streaks = failureStreaks(run.ops, run.endAt);
  const outages: CommonResult['outages'] = {};
  for (const n of nodes) {
    const mine = streaks.filter((s) => s.node === n.name);
    outages[n.name] = { longestMs: mine[0]?.ms ?? 0, streaks: mine.length, longest: mine[0] };
  }
  return {
    ...extra,
    cutMs: round(run.healAt - run.cutAt),
    droppedPackets: run.dropped,
    ops: opsReport(nodes, run),
    readyz: readyzReport(nodes, run),
    timeline: timeline(nodes, run),
    settleMs: SETTLE_MS,
    afterSettle: afterSettle(nodes, run),
    outages,
    invariants: {
      maxSeatsHeldSampled: Math.max(0, ...run.samples.map((s) => s.held)),
      seatSamples: run.samples.length,
      grants: run.ops.filter((o) => o.kind === 'checkout' && okOp(o)).length,
    },
  };
}
