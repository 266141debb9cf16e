import { type BreakerPolicy, CircuitBreaker, type CircuitState } from './circuit-breaker.js';

/** One node as the client sees it; see `client.metrics().nodes`. */
export interface NodeStatus {
  readonly url: string;
  /** `configured`: from `createClient`'s `servers`; `discovered`: from `GET /v1/cluster`. */
  readonly source: 'configured' | 'discovered';
  readonly circuit: CircuitState;
  /** Moving average of answer times in milliseconds; undefined until the node has answered. */
  readonly latencyMs: number | undefined;
  /** Attempts in flight now. */
  readonly outstanding: number;
}

/** How an attempt on a node ended, for its statistics. */
export type AttemptOutcome =
  /** A result. */
  | 'success'
  /** A definitive error (SEATS_EXHAUSTED, ...): the node works. */
  | 'answered'
  /** A retryable failure: the node does not work right now. */
  | 'failure'
  /** The caller gave up (abort, a bug): says nothing about the node. */
  | 'abandoned';

export interface BalancerOptions {
  readonly random: () => number;
  readonly monotonic: () => number;
  readonly breaker: BreakerPolicy;
  /** Tests whether a node with an open circuit is ready again (`GET /readyz`); resolves to the answer. */
  readonly probe?: (server: string) => Promise<boolean>;
  readonly onCircuit?: (server: string, state: CircuitState) => void;
}

// Weight of the newest sample in the latency average: about the last five answers count.
const EWMA_ALPHA = 0.3;

class NodeEntry {
  ewma: number | undefined;
  outstanding = 0;
  readonly breaker: CircuitBreaker;
  constructor(
    readonly url: string,
    readonly source: 'configured' | 'discovered',
    policy: BreakerPolicy,
  ) {
    this.breaker = new CircuitBreaker(policy);
  }
}

/** How much slower than the usual pick a preferred node may be and still be chosen (see `pick`). */
const PREFER_LATENCY_FACTOR = 2;

/**
 * Chooses the node for each attempt: "power of two choices" (Mitzenmacher, 2001; Finagle's P2C
 * least-loaded balancer) — two random nodes among those whose circuit lets an attempt through, and the
 * one with the lower cost, `(latency EWMA + 1) × (outstanding + 1)`. Two random choices spread many
 * clients over the cluster almost as well as knowing every node's load, without herding onto the single
 * fastest node. A node never measured is costed at the average of the others.
 *
 * A node whose circuit is open gets no calls; once its cool-down has passed, the next pick starts a probe
 * of it in the background. When every circuit is open, the node whose cool-down ends first is tried
 * anyway: a cluster that was wholly down must be found again as soon as it is back.
 */
export class Balancer {
  readonly #options: BalancerOptions;
  #nodes: NodeEntry[];

  constructor(configured: readonly string[], options: BalancerOptions) {
    if (configured.length === 0) throw new TypeError('at least one server is required');
    this.#options = options;
    this.#nodes = configured.map((url) => new NodeEntry(url, 'configured', options.breaker));
  }

  get servers(): readonly string[] {
    return Object.freeze(this.#nodes.map((n) => n.url));
  }

  /**
   * The node for the next attempt, never one in `exclude`; undefined when none is left.
   *
   * `prefer` (a lease's renewals: the node that served that lease last) wins while its circuit is closed
   * and its latency is at most PREFER_LATENCY_FACTOR times the usual pick's: a node keeps the lease records it wrote
   * in a cache and renews them without a read (docs/ha.md, "Read-free renewals"), so sending a lease back
   * to it halves that renewal's etcd round trips. Grants are spread by the usual pick, so renewals that
   * follow them stay spread too; a slow or failing preferred node loses the preference at once.
   */
  pick(exclude: ReadonlySet<string>, prefer?: string): string | undefined {
    const chosen = this.#pick(exclude);
    if (prefer === undefined || chosen === undefined || chosen === prefer || exclude.has(prefer))
      return chosen;
    const preferred = this.#nodes.find((n) => n.url === prefer);
    const usual = this.#nodes.find((n) => n.url === chosen);
    if (!preferred?.breaker.closed || !usual) return chosen;
    // Latency only, not calls in flight: a client's leases renew at about the same moments, and a few
    // calls queued on the preferred node cost less than the etcd read a cache miss adds elsewhere.
    const fallback = this.#meanLatency();
    const latency = (node: NodeEntry) => (node.ewma ?? fallback) + 1;
    return latency(preferred) <= PREFER_LATENCY_FACTOR * latency(usual) ? prefer : chosen;
  }

  #pick(exclude: ReadonlySet<string>): string | undefined {
    const now = this.#options.monotonic();
    const usable: NodeEntry[] = [];
    let lastResort: NodeEntry | undefined;
    for (const node of this.#nodes) {
      if (node.breaker.probeDue(now)) this.#probe(node);
      if (exclude.has(node.url)) continue;
      if (node.breaker.closed) usable.push(node);
      else if (!lastResort || node.breaker.reopensIn(now) < lastResort.breaker.reopensIn(now))
        lastResort = node;
    }
    if (usable.length === 0) return lastResort?.url;
    if (usable.length === 1) return usable[0]?.url;
    const n = usable.length;
    const i = Math.min(n - 1, Math.floor(this.#options.random() * n));
    let j = Math.min(n - 2, Math.floor(this.#options.random() * (n - 1)));
    if (j >= i) j++;
    const a = usable[i] as NodeEntry;
    const b = usable[j] as NodeEntry;
    const fallback = this.#meanLatency();
    return this.#cost(a, fallback) <= this.#cost(b, fallback) ? a.url : b.url;
  }

  /** An attempt on `server` starts; call the returned function once with its outcome. */
  begin(server: string): (outcome: AttemptOutcome) => void {
    const node = this.#nodes.find((n) => n.url === server);
    if (!node) return () => undefined; // dropped by discovery meanwhile
    const started = this.#options.monotonic();
    node.outstanding++;
    let ended = false;
    return (outcome) => {
      if (ended) return;
      ended = true;
      node.outstanding--;
      const now = this.#options.monotonic();
      if (outcome === 'success' || outcome === 'answered') {
        const sample = now - started;
        node.ewma = node.ewma === undefined ? sample : node.ewma + EWMA_ALPHA * (sample - node.ewma);
        this.#report(node, node.breaker.success());
      } else if (outcome === 'failure') {
        this.#report(node, node.breaker.failure(now));
      }
    };
  }

  /**
   * Replaces the discovered nodes. Configured nodes always stay: the operator's list is the one thing the
   * client is sure of. Returns whether the list changed.
   */
  setDiscovered(urls: readonly string[]): boolean {
    const wanted = new Set(urls);
    const before = this.#nodes.map((n) => n.url).join(' ');
    const kept = this.#nodes.filter((n) => n.source === 'configured' || wanted.has(n.url));
    for (const url of wanted) {
      if (!kept.some((n) => n.url === url))
        kept.push(new NodeEntry(url, 'discovered', this.#options.breaker));
    }
    this.#nodes = kept;
    return kept.map((n) => n.url).join(' ') !== before;
  }

  snapshot(): NodeStatus[] {
    return this.#nodes.map((n) => ({
      url: n.url,
      source: n.source,
      circuit: n.breaker.state,
      latencyMs: n.ewma === undefined ? undefined : Math.round(n.ewma * 100) / 100,
      outstanding: n.outstanding,
    }));
  }

  #cost(node: NodeEntry, fallback: number): number {
    return ((node.ewma ?? fallback) + 1) * (node.outstanding + 1);
  }

  #meanLatency(): number {
    let sum = 0;
    let count = 0;
    for (const node of this.#nodes) {
      if (node.ewma !== undefined) {
        sum += node.ewma;
        count++;
      }
    }
    return count === 0 ? 0 : sum / count;
  }

  #probe(node: NodeEntry): void {
    const probe = this.#options.probe;
    if (!probe) return;
    this.#report(node, node.breaker.beginProbe());
    probe(node.url).then(
      (ready) => {
        if (!this.#nodes.includes(node)) return; // dropped by discovery meanwhile
        this.#report(
          node,
          ready ? node.breaker.success() : node.breaker.failure(this.#options.monotonic(), true),
        );
      },
      () => this.#report(node, node.breaker.failure(this.#options.monotonic(), true)),
    );
  }

  #report(node: NodeEntry, state: CircuitState | undefined): void {
    if (state !== undefined) this.#options.onCircuit?.(node.url, state);
  }
}
