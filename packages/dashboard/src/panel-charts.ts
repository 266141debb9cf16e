import { byId } from './dom.js';
import type { Snapshot } from './snapshot.js';
import uPlot from './uplot.js';

/** Two minutes of history at one snapshot a second. */
const POINTS = 120;

type Series = [number[], number[], number[]];

/**
 * Latency (p50/p99 over the node's last minute) and request/error rates, drawn with uPlot from the live
 * stream. Rates are differences of the node's cumulative counters between snapshots, so a missed
 * snapshot widens one interval instead of losing requests.
 */
export class ChartsPanel {
  readonly #latency: Series = [[], [], []];
  readonly #rates: Series = [[], [], []];
  #previous: { t: number; requests: number; errors: number } | undefined;
  #latencyChart: uPlot | undefined;
  #rateChart: uPlot | undefined;

  constructor() {
    // A new sign-in starts new charts: drop the previous session's.
    byId('chart-latency').replaceChildren();
    byId('chart-rates').replaceChildren();
  }

  update(snapshot: Snapshot): void {
    const stats = snapshot.stats;
    byId('charts-status').textContent = stats ? '' : 'this node reports no request metrics';
    if (!stats) return;
    const t = Date.parse(snapshot.time) / 1000;
    push(this.#latency, t, stats.latencyMs.p50, stats.latencyMs.p99);
    const prev = this.#previous;
    // Rates over at least ~1 s: snapshots pushed on change come milliseconds apart, and a burst divided
    // by a few milliseconds would draw a spike of thousands per second.
    if (!prev || stats.requestsTotal < prev.requests) {
      this.#previous = { t, requests: stats.requestsTotal, errors: stats.errorsTotal };
    } else if (t - prev.t >= 0.9) {
      const dt = t - prev.t;
      const errors = (stats.errorsTotal - prev.errors) / dt;
      push(this.#rates, t, (stats.requestsTotal - prev.requests) / dt, errors);
      this.#previous = { t, requests: stats.requestsTotal, errors: stats.errorsTotal };
    }
    byId('charts-latest').textContent =
      `p50 ${stats.latencyMs.p50.toFixed(1)} ms · p99 ${stats.latencyMs.p99.toFixed(1)} ms · ` +
      `${stats.requestsTotal} requests · ${stats.errorsTotal} errors (5xx)`;
    this.#latencyChart ??= chart('chart-latency', 'ms', ['p50', 'p99'], ['#2b6cb0', '#c05621']);
    this.#rateChart ??= chart('chart-rates', 'per second', ['requests', 'errors'], ['#2f855a', '#c53030']);
    // One point has no time span: uPlot would stretch the axis over years. Draw from two on.
    if (this.#latency[0].length >= 2) this.#latencyChart.setData(this.#latency);
    if (this.#rates[0].length >= 2) this.#rateChart.setData(this.#rates);
  }

  resize(): void {
    for (const [c, id] of [
      [this.#latencyChart, 'chart-latency'],
      [this.#rateChart, 'chart-rates'],
    ] as const) {
      c?.setSize({ width: width(id), height: 180 });
    }
  }
}

function push(series: Series, t: number, a: number, b: number): void {
  series[0].push(t);
  series[1].push(a);
  series[2].push(b);
  if (series[0].length > POINTS) for (const s of series) s.shift();
}

function width(id: string): number {
  return Math.max(240, byId(id).clientWidth);
}

function chart(
  id: string,
  unit: string,
  labels: readonly [string, string],
  colors: readonly [string, string],
): uPlot {
  const options: uPlot.Options = {
    width: width(id),
    height: 180,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [
      {},
      { label: labels[0], stroke: colors[0], width: 2 },
      { label: labels[1], stroke: colors[1], width: 2 },
    ],
  };
  return new uPlot(options, [[], [], []], byId(id));
}
