import type { Clock } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { LatencyWindow } from './latency-window.js';
import { meterStore } from './metered-store.js';

/** What the dashboard charts: cumulative counts since start and latency over the last minute. */
export interface MetricsSummary {
  readonly requestsTotal: number;
  /** Responses with status >= 500: the node failed. A 409 SEATS_EXHAUSTED is an answer, not an error. */
  readonly errorsTotal: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

export interface NodeMetricsOptions {
  readonly nodeId: string;
  readonly version: string;
  /** The store backend (`sqlite`, `etcd`). */
  readonly store: string;
  readonly clock: Clock;
  /**
   * Node.js process metrics (CPU, memory, event loop, GC). Off for in-process test apps: each set
   * installs event-loop and GC observers that live as long as the process.
   */
  readonly processMetrics?: boolean;
}

/** Reads a gauge's samples at scrape time. */
export type GaugeSource = () => readonly GaugeSample[] | Promise<readonly GaugeSample[]>;

/** One labelled value a gauge reports at scrape time. */
export interface GaugeSample {
  readonly labels?: Record<string, string>;
  readonly value: number;
}

export interface AuditStatus {
  readonly headSeq: number;
  readonly unsealed: number;
}

/**
 * A gauge whose samples are read at scrape time. Unlike a plain prom-client gauge, one without labels
 * reports nothing (rather than 0) when its source has no value: "no audit trail" is not "empty chain".
 */
class SourcedGauge extends Gauge {
  #empty = true;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    registry: Registry,
    read: GaugeSource,
  ) {
    const self = { gauge: undefined as SourcedGauge | undefined };
    super({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        // A source that cannot answer (store down) reports no samples; the scrape itself must succeed,
        // or Prometheus would see the whole node as down.
        const samples = await Promise.resolve()
          .then(read)
          .catch(() => []);
        for (const sample of samples) {
          if (sample.labels) this.set(sample.labels, sample.value);
          else this.set(sample.value);
        }
        if (self.gauge) self.gauge.#empty = samples.length === 0;
      },
    });
    self.gauge = this;
  }

  override async get() {
    const metric = await super.get();
    return this.#empty ? { ...metric, values: [] } : metric;
  }
}

const PROMTOOL_UNFRIENDLY = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Seconds, from 1 ms to 10 s: checkouts take ~1 ms on SQLite and a few on etcd; 1.5 s is the budget. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The node's Prometheus metrics, in a registry of its own: tests build many apps in one process, and
 * each must count only its own traffic. Label values are bounded — route patterns, error codes,
 * installed licenses and features, cluster node ids — never client ids or raw URLs.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #window: LatencyWindow;
  #requests = 0;
  #errors = 0;
  readonly #sources = new Map<string, GaugeSource>();
  #auditStatus: (() => Promise<AuditStatus>) | undefined;
  readonly #metered = new WeakMap<LeaseStore, LeaseStore>();
  readonly #meters = new WeakSet<LeaseStore>();

  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly httpFailures: Counter<'method' | 'route' | 'code'>;
  readonly checkoutsGranted: Counter<'license' | 'feature'>;
  readonly checkoutsDenied: Counter<'reason'>;
  readonly leasesRenewed: Counter;
  readonly leasesReleased: Counter;
  readonly leasesExpired: Counter;
  readonly storeDuration: Histogram<'op'>;
  readonly storeErrors: Counter<'op' | 'code'>;

  constructor(options: NodeMetricsOptions) {
    this.#clock = options.clock;
    this.#startedAt = options.clock.monotonic();
    this.#window = new LatencyWindow(60_000, () => options.clock.monotonic());
    const registers = [this.registry];

    const info = new Gauge({
      name: 'leasehold_node_info',
      help: 'Always 1; the labels say which node, version and store backend this is.',
      labelNames: ['node', 'version', 'store'] as const,
      registers,
    });
    info.set({ node: options.nodeId, version: options.version, store: options.store }, 1);
    this.gauge('leasehold_node_uptime_seconds', 'Seconds since the node started.', () => [
      { value: (this.#clock.monotonic() - this.#startedAt) / 1000 },
    ]);

    const requestLabels = ['method', 'route', 'status'] as const;
    this.httpRequests = new Counter({
      name: 'leasehold_http_requests_total',
      help: 'HTTP responses by method, route pattern and status code.',
      labelNames: requestLabels,
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'leasehold_http_request_duration_seconds',
      help: 'Time from request received to response sent, by method, route pattern and status code.',
      labelNames: requestLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.httpFailures = new Counter({
      name: 'leasehold_http_request_failures_total',
      help: 'Problem responses (status >= 400) by method, route pattern and error code (docs/errors.md).',
      labelNames: ['method', 'route', 'code'] as const,
      registers,
    });
    this.checkoutsGranted = new Counter({
      name: 'leasehold_checkouts_granted_total',
      help: 'Seats granted (new leases; idempotent replays not counted), by license and feature.',
      labelNames: ['license', 'feature'] as const,
      registers,
    });
    this.checkoutsDenied = new Counter({
      name: 'leasehold_checkouts_denied_total',
      help: 'Checkouts the store refused, by error code (SEATS_EXHAUSTED, LICENSE_EXPIRED, …).',
      labelNames: ['reason'] as const,
      registers,
    });
    this.leasesRenewed = new Counter({
      name: 'leasehold_leases_renewed_total',
      help: 'Lease renewals (heartbeats) that succeeded.',
      registers,
    });
    this.leasesReleased = new Counter({
      name: 'leasehold_leases_released_total',
      help: 'Check-ins (seats returned by their client).',
      registers,
    });
    this.leasesExpired = new Counter({
      name: 'leasehold_leases_expired_total',
      help: 'Leases the sweeper marked expired because their client stopped renewing.',
      registers,
    });
    this.storeDuration = new Histogram({
      name: 'leasehold_store_operation_duration_seconds',
      help: 'Store operation latency by operation (LeaseStore method), failures included.',
      labelNames: ['op'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: 'leasehold_store_operation_errors_total',
      help: 'Store operations that failed, by operation and error code.',
      labelNames: ['op', 'code'] as const,
      registers,
    });

    // Families whose numbers come from other modules: declared here so alerts and dashboards can rely
    // on the names; they have samples once their source is attached.
    this.gauge(
      'leasehold_peer_clock_skew_seconds',
      "Each peer's clock minus this node's, from the peer probe (NTP-style midpoint estimate).",
      () => [], // no samples until the peer probe registers its source (node/peer-clock-gauge.ts)
      ['peer'],
    );
    this.gauge(
      'leasehold_peer_clock_skew_beyond_margin',
      "1 while a peer's clock is off by more than maxClockSkewMs beyond the probe's ±RTT/2, else 0.",
      () => [], // as above: the peer probe registers its source
      ['peer'],
    );
    const audit = async () => (this.#auditStatus ? [await this.#auditStatus()] : []);
    this.gauge(
      'leasehold_audit_chain_length',
      'Sealed records in the audit hash chain (head sequence).',
      async () => (await audit()).map((a) => ({ value: a.headSeq })),
    );
    this.gauge(
      'leasehold_audit_unsealed_events',
      'Audit records written but not yet sealed into the chain.',
      async () => (await audit()).map((a) => ({ value: a.unsealed })),
    );

    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters fail `promtool check metrics`; `nodejs_active_handles{type}` and
      // `nodejs_active_resources{type}` carry the same numbers.
      for (const name of PROMTOOL_UNFRIENDLY) this.registry.removeSingleMetric(name);
    }
  }

  /** Records one answered request (called from the HTTP hooks). */
  observeRequest(method: string, route: string, status: number, ms: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, ms / 1000);
    this.#requests++;
    if (status >= 500) this.#errors++;
    this.#window.record(ms);
  }

  /** For the dashboard: see {@link MetricsSummary}. */
  summary(): MetricsSummary {
    const [p50 = 0, p99 = 0] = this.#window.percentiles([0.5, 0.99]);
    return { requestsTotal: this.#requests, errorsTotal: this.#errors, latencyMs: { p50, p99 } };
  }

  /**
   * Adds a gauge read at scrape time: the one-liner for metrics owned elsewhere, e.g.
   * `app.metrics.gauge('leasehold_audit_chain_length', 'Audit records.', async () => [{ value: n }])`.
   * `labelNames` lists every label the samples carry. Registering a name again returns the existing
   * gauge with `read` as its source from now on: families declared here without a source (peer clock
   * skew) get their numbers from the module that registers them later.
   */
  gauge(name: string, help: string, read: GaugeSource, labelNames: readonly string[] = []): Gauge {
    const sources = this.#sources;
    sources.set(name, read);
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge;
    return new SourcedGauge(name, help, labelNames, this.registry, () => sources.get(name)?.() ?? []);
  }

  /** A counter owned elsewhere (rate limits, replication); registering a name twice returns the existing one. */
  counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * The store, measured: operation latency and errors, and the seat events. One wrapper per store, so
   * the HTTP layer and the sweeper count into the same series.
   */
  meterStore<S extends LeaseStore>(store: S): S {
    if (this.#meters.has(store)) return store;
    let metered = this.#metered.get(store);
    if (!metered) {
      metered = meterStore(store, this);
      this.#metered.set(store, metered);
      this.#meters.add(metered);
    }
    return metered as S;
  }

  /** Attaches the audit trail's status (`leasehold_audit_chain_length`, `leasehold_audit_unsealed_events`). */
  setAuditSource(read: () => Promise<AuditStatus>): void {
    this.#auditStatus = read;
  }

  /** The exposition text for `/metrics`. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
