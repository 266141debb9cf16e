/**
 * Request latencies of the last `windowMs`, for the dashboard's p50/p99. A Prometheus histogram answers
 * "since start" and with bucket resolution only; the dashboard wants "now" at a glance, so recent samples
 * are kept in a fixed ring (no allocation per request) and sorted only when someone asks.
 */
export class LatencyWindow {
  readonly #at: Float64Array;
  readonly #ms: Float64Array;
  #next = 0;
  #size = 0;

  /**
   * @param capacity samples kept; under more than `capacity` requests per window the percentiles cover
   *   the most recent `capacity` requests only, which is still the current picture.
   */
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
    capacity = 8192,
  ) {
    this.#at = new Float64Array(capacity);
    this.#ms = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#at[this.#next] = this.now();
    this.#ms[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#at.length;
    if (this.#size < this.#at.length) this.#size++;
  }

  /** Nearest-rank percentiles (`q` in 0..1) of the samples inside the window; 0 when there are none. */
  percentiles(qs: readonly number[]): number[] {
    const since = this.now() - this.windowMs;
    const recent: number[] = [];
    for (let i = 0; i < this.#size; i++) {
      if ((this.#at[i] as number) >= since) recent.push(this.#ms[i] as number);
    }
    if (recent.length === 0) return qs.map(() => 0);
    recent.sort((a, b) => a - b);
    return qs.map(
      (q) => recent[Math.min(recent.length - 1, Math.max(0, Math.ceil(q * recent.length) - 1))] as number,
    );
  }
}
