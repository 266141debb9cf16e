import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { errorFields, type Log } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { Balancer } from './balancer.js';
import { normalizeServerUrl } from './server-url.js';

/** Where node discovery stands; see `client.metrics().discovery`. */
export type DiscoveryState =
  /** Not started (no call yet), or switched off by `discovery: false`. */
  | 'off'
  /** Refreshing the node list from `GET /v1/cluster`. */
  | 'on'
  /** A node refused the list to this token (an older node answers 403 to client tokens); the configured list stays. */
  | 'unavailable';

export interface DiscoveryDeps {
  readonly balancer: Balancer;
  /** `GET v1/cluster` with failover, returning the JSON body. */
  readonly load: (signal: AbortSignal) => Promise<unknown>;
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Only https nodes are taken when any configured node is https: no downgrade of the bearer token. */
  readonly httpsOnly: boolean;
  readonly log: Log;
}

/**
 * Keeps the balancer's node list in step with the cluster's own (`GET /v1/cluster`), every `intervalMs`,
 * in the background. Configured nodes always stay. A definitive refusal (403, 401, 404) ends discovery
 * for this client (nodes before 0.1 served the list to admin tokens only), since asking again every
 * minute would only fill the nodes' logs.
 */
export class NodeDiscovery {
  readonly #deps: DiscoveryDeps;
  readonly #abort = new AbortController();
  #state: DiscoveryState = 'off';
  #cancelTimer: (() => void) | undefined;

  constructor(deps: DiscoveryDeps) {
    this.#deps = deps;
  }

  get state(): DiscoveryState {
    return this.#state;
  }

  /** Starts refreshing (at once, then every interval); later calls do nothing. */
  start(): void {
    if (this.#state !== 'off' || this.#abort.signal.aborted) return;
    this.#state = 'on';
    void this.refresh();
  }

  stop(): void {
    this.#abort.abort();
    this.#cancelTimer?.();
  }

  /** One refresh; never throws. */
  async refresh(): Promise<void> {
    const { log, clock } = this.#deps;
    try {
      const body = await this.#deps.load(this.#abort.signal);
      const urls = this.#parse(body);
      if (urls.length > 0 && this.#deps.balancer.setDiscovered(urls)) {
        log('info', { servers: this.#deps.balancer.servers }, 'node list updated from the cluster');
      }
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      if (err instanceof LeaseholdClientError && !err.retryable) {
        this.#state = 'unavailable';
        log(
          'info',
          { code: err.code, status: err.status },
          'the cluster does not give its node list to this token; keeping the configured servers',
        );
        return;
      }
      log('debug', errorFields(err), 'node discovery failed; trying again later');
    }
    if (this.#abort.signal.aborted || this.#state !== 'on') return;
    this.#cancelTimer = clock.setTimer(() => void this.refresh(), this.#deps.intervalMs, true);
  }

  #parse(body: unknown): string[] {
    const nodes = (body as { nodes?: unknown } | null)?.nodes;
    if (!Array.isArray(nodes)) return [];
    const urls: string[] = [];
    for (const node of nodes) {
      const { url, healthy } = (node ?? {}) as { url?: unknown; healthy?: unknown };
      if (healthy === false || typeof url !== 'string') continue;
      try {
        const normalized = normalizeServerUrl(url);
        if (this.#deps.httpsOnly && !normalized.startsWith('https:')) continue;
        urls.push(normalized);
      } catch {
        // A node advertising a malformed URL is skipped, not fatal.
      }
    }
    return urls;
  }
}
