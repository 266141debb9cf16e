import {
  FAULT_KINDS,
  type Fault,
  type FaultKind,
  type HistoryData,
  type Op,
  PROCESS_FAULT_KINDS,
} from './history.js';

/**
 * What the fault run prints for the team's notes: client-visible outages per fault kind and op counts.
 * Pure functions of a history.
 */

/** A call that got no usable answer: no answer at all, or a `retryable: true` one (503). */
export function unavailable(op: Op): boolean {
  return op.outcome === 'unknown' || (op.outcome === 'fail' && op.retryable === true);
}

/**
 * A client-visible outage: a maximal run of one client's consecutive calls (in call order) that all got
 * no usable answer, from the first one's call to the last one's return. A definite answer — success, 409
 * SEATS_EXHAUSTED, 410 — ends it. `fault` is the fault it is attributed to: the latest-starting fault that
 * overlaps it, counting a fault as lasting until `settleMs` after it healed (or was lifted).
 */
export interface OutageWindow {
  readonly client: string;
  readonly from: number;
  readonly to: number;
  readonly calls: number;
  readonly fault: Fault | undefined;
}

export function outageWindows(history: HistoryData, settleMs = 3000): OutageWindow[] {
  const byClient = new Map<string, Op[]>();
  for (const op of history.ops) {
    const list = byClient.get(op.client) ?? [];
    list.push(op);
    byClient.set(op.client, list);
  }
  const windows: OutageWindow[] = [];
  for (const [client, ops] of byClient) {
    const sorted = [...ops].sort((a, b) => a.call - b.call || a.seq - b.seq);
    let run: Op[] = [];
    const close = () => {
      if (run.length === 0) return;
      const from = run[0]?.call ?? 0;
      const to = Math.max(...run.map((op) => op.ret));
      windows.push({
        client,
        from,
        to,
        calls: run.length,
        fault: attribute(history.faults, from, to, settleMs),
      });
      run = [];
    };
    for (const op of sorted) {
      if (unavailable(op)) run.push(op);
      else close();
    }
    close();
  }
  return windows;
}

function attribute(faults: readonly Fault[], from: number, to: number, settleMs: number): Fault | undefined {
  let best: Fault | undefined;
  for (const f of faults) {
    const until = (f.healed ?? f.end) + settleMs;
    if (f.start <= to && from <= until && (!best || f.start > best.start)) best = f;
  }
  return best;
}

export interface OutageRow {
  readonly kind: FaultKind | 'no fault';
  readonly injected: number;
  readonly windows: number;
  /** The longest window, in ms, and whose. */
  readonly longestMs: number;
  readonly longestClient: string | undefined;
  readonly longestTarget: string | undefined;
}

/** One row per process fault kind (injected or not), per other kind injected, and one for "no fault". */
export function outageByKind(history: HistoryData, settleMs = 3000): OutageRow[] {
  const windows = outageWindows(history, settleMs);
  const always: readonly FaultKind[] = PROCESS_FAULT_KINDS;
  const kinds: (FaultKind | 'no fault')[] = [
    ...FAULT_KINDS.filter((k) => always.includes(k) || history.faults.some((f) => f.kind === k)),
    'no fault',
  ];
  return kinds.map((kind) => {
    const mine = windows.filter((w) => (w.fault?.kind ?? 'no fault') === kind);
    let longest: OutageWindow | undefined;
    for (const w of mine) if (!longest || w.to - w.from > longest.to - longest.from) longest = w;
    return {
      kind,
      injected: kind === 'no fault' ? 0 : history.faults.filter((f) => f.kind === kind).length,
      windows: mine.length,
      longestMs: longest ? longest.to - longest.from : 0,
      longestClient: longest?.client,
      longestTarget: longest?.fault?.target,
    };
  });
}

export interface FaultRow {
  readonly fault: Fault;
  readonly windows: number;
  readonly longestMs: number;
}

/** Per injected fault, in order: how many outage windows it caused and the longest. */
export function outageByFault(history: HistoryData, settleMs = 3000): FaultRow[] {
  const windows = outageWindows(history, settleMs);
  return history.faults.map((fault) => {
    const mine = windows.filter((w) => w.fault === fault);
    return { fault, windows: mine.length, longestMs: Math.max(0, ...mine.map((w) => w.to - w.from)) };
  });
}

export interface OpCounts {
  readonly kind: Op['kind'];
  readonly total: number;
  readonly ok: number;
  /** Error answers by code (`HTTP <status>` when there was no code). */
  readonly failed: Readonly<Record<string, number>>;
  readonly unknown: number;
}

export function opCounts(history: HistoryData): OpCounts[] {
  return (['checkout', 'renew', 'checkin'] as const).map((kind) => {
    const ops = history.ops.filter((op) => op.kind === kind);
    const failed: Record<string, number> = {};
    for (const op of ops) {
      if (op.outcome !== 'fail') continue;
      const code = op.code ?? `HTTP ${op.status}`;
      failed[code] = (failed[code] ?? 0) + 1;
    }
    return {
      kind,
      total: ops.length,
      ok: ops.filter((op) => op.outcome === 'ok').length,
      failed,
      unknown: ops.filter((op) => op.outcome === 'unknown').length,
    };
  });
}

/** A small fixed-width table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** `origin`: the instant fault start times are shown relative to (the run's start). */
export function formatReport(history: HistoryData, origin: number, settleMs = 3000): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const faults = table(
    ['fault', 'target', 'at s', 'lifted after s', 'healed after s', 'windows', 'longest ms'],
    outageByFault(history, settleMs).map(({ fault, windows, longestMs }) => [
      fault.kind,
      fault.target,
      seconds(fault.start - origin),
      seconds(fault.end - fault.start),
      fault.healed === undefined ? 'never' : seconds(fault.healed - fault.start),
      String(windows),
      String(longestMs),
    ]),
  );
  return `${formatOutages(history, settleMs)}\n\n${faults}\n\n${formatCounts(history)}`;
}

/** The outage table by fault kind (the per-fault table is too long for a soak's thousand faults). */
export function formatOutages(history: HistoryData, settleMs = 3000): string {
  return table(
    ['fault kind', 'injected', 'outage windows', 'longest client outage ms', 'client', 'target'],
    outageByKind(history, settleMs).map((r) => [
      r.kind,
      String(r.injected),
      String(r.windows),
      String(r.longestMs),
      r.longestClient ?? '-',
      r.longestTarget ?? '-',
    ]),
  );
}

/** The op counts table: total, ok, unknown, error answers by code. */
export function formatCounts(history: HistoryData): string {
  return table(
    ['op', 'total', 'ok', 'unknown', 'error answers'],
    opCounts(history).map((c) => [
      c.kind,
      String(c.total),
      String(c.ok),
      String(c.unknown),
      Object.entries(c.failed)
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(', ') || '-',
    ]),
  );
}
