import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { Anchor } from '../lease/entitlement.js';
import type { Operation } from '../lease/lease.js';
import type { CallMode, CheckoutRequest, Granted } from '../lease/lease-context.js';
import type { LeaseHandle } from '../lease/lease-handle.js';
import type { LeaseInfo } from '../lease/lease-info.js';
import { parseLeaseInfo } from '../lease/parse-lease.js';
import type { ClientCounter } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import type { Log } from '../observability/logger.js';
import { Balancer, type NodeStatus } from '../transport/balancer.js';
import { type DiscoveryState, NodeDiscovery } from '../transport/discovery.js';
import { type FailoverReport, type Served, withFailover } from '../transport/failover.js';
import { type HttpAnswer, type HttpRequest, httpCall } from '../transport/http-call.js';
import { logAttempt } from './attempt-log.js';
import { checkGrant, type GrantCheckDeps } from './grant-check.js';
import { LeaseAffinity } from './lease-affinity.js';
import { leasePath } from './lease-path.js';
import type { ResolvedOptions } from './options.js';

/** Reads an answer inside the attempt that got it; see {@link ClusterCalls.call}. */
export type ParseAnswer<T> = (
  answer: HttpAnswer,
  server: string,
  sent: Anchor,
  signal: AbortSignal | undefined,
) => T | Promise<T>;

/** What the client's calls need from the client. */
export interface ClusterCallsDeps {
  readonly options: ResolvedOptions;
  readonly log: Log;
  /** Settles once the client's saved state is loaded: no call goes out before. */
  readonly ready: Promise<void>;
  /** What checking a grant needs (the JWK Set cache, trusted time, the epoch watermark). */
  readonly grants: GrantCheckDeps;
  count(counter: ClientCounter): void;
  /** A call moved to another node: the client tells the lease concerned, or its own listeners. */
  onFailover(operation: Operation, report: FailoverReport, lease: LeaseHandle | undefined): void;
}

/**
 * The client's calls to the cluster: every API call with failover across the balanced nodes (and those
 * discovery adds), and the lease operations over it — checkout, renewal, release — whose grants are
 * verified inside the attempt and remembered by the node that served them (lease affinity). What the
 * client does with the leases (handles, events, saved state) stays in http-leasehold-client.ts.
 */
export class ClusterCalls {
  readonly #deps: ClusterCallsDeps;
  readonly #balancer: Balancer;
  readonly #discovery: NodeDiscovery | undefined;
  /** Which node served each lease last; renewals ask it first. */
  readonly affinity = new LeaseAffinity();

  constructor(deps: ClusterCallsDeps) {
    this.#deps = deps;
    const { options, log, count } = deps;
    this.#balancer = new Balancer(options.servers, {
      random: options.random,
      monotonic: () => options.clock.monotonic(),
      breaker: options.breaker,
      // A node is back when it says it can serve: /readyz answers 503 while it cannot reach its store.
      probe: (server) =>
        httpCall(server, { method: 'GET', path: 'readyz' }, options).then(
          () => true,
          () => false,
        ),
      onCircuit: (server, state) => {
        if (state === 'open') count('circuitOpens');
        publish('circuit', () => ({ server, state }));
        log(state === 'open' ? 'warn' : 'info', { server, circuit: state }, `circuit ${state}`);
      },
    });
    if (options.discoveryIntervalMs !== undefined) {
      this.#discovery = new NodeDiscovery({
        balancer: this.#balancer,
        load: async (signal) =>
          (
            await this.call('cluster', { method: 'GET', path: 'v1/cluster' }, (a) => a.body, {
              signal,
              background: true,
            })
          ).result,
        clock: options.clock,
        intervalMs: options.discoveryIntervalMs,
        httpsOnly: options.servers.some((s) => s.startsWith('https:')),
        log,
      });
    }
  }

  get servers(): readonly string[] {
    return this.#balancer.servers;
  }

  nodes(): readonly NodeStatus[] {
    return this.#balancer.snapshot();
  }

  get discovery(): DiscoveryState {
    return this.#discovery?.state ?? 'off';
  }

  stopDiscovery(): void {
    this.#discovery?.stop();
  }

  async checkout(lease: LeaseHandle | undefined, request: CheckoutRequest, mode: CallMode): Promise<Granted> {
    const { options, count } = this.#deps;
    const body = {
      feature: request.feature,
      license: request.license,
      client: options.client,
      requestId: request.requestId,
    };
    const { result } = await this.call(
      'checkout',
      { method: 'POST', path: 'v1/leases', body },
      async (answer, server, sent, signal) => {
        const granted = await this.checkGrant('checkout', answer, server, sent, signal);
        if (granted.grant.requestId !== request.requestId || granted.grant.feature !== request.feature) {
          throw new LeaseholdClientError('BAD_RESPONSE', `${server} answered a checkout with another lease`, {
            server,
          });
        }
        return granted;
      },
      { ...mode, lease },
    );
    count('checkouts');
    return result;
  }

  async renew(lease: LeaseHandle | undefined, leaseId: string, mode: CallMode): Promise<Granted> {
    const { options, count } = this.#deps;
    try {
      const { result } = await this.call(
        'renew',
        { method: 'POST', path: leasePath(leaseId, options.client.id, '/renew') },
        async (answer, server, sent, signal) => {
          const granted = await this.checkGrant('renew', answer, server, sent, signal);
          if (granted.grant.id !== leaseId) {
            throw new LeaseholdClientError(
              'BAD_RESPONSE',
              `${server} answered a renewal with another lease`,
              {
                server,
              },
            );
          }
          return granted;
        },
        { ...mode, lease, prefer: this.affinity.of(leaseId) },
      );
      count('renewals');
      return result;
    } catch (err) {
      if (isLeaseholdClientError(err) && err.retryable) count('renewalFailures');
      throw err;
    }
  }

  async release(lease: LeaseHandle | undefined, leaseId: string): Promise<LeaseInfo> {
    const { options, count, log } = this.#deps;
    const { result, server } = await this.call(
      'release',
      { method: 'DELETE', path: leasePath(leaseId, options.client.id) },
      (answer, s) => parseLeaseInfo(answer.body, s),
      { background: false, lease },
    );
    count('releases');
    this.affinity.forget(leaseId);
    publish('lease', () => ({ event: 'released', lease: result, server }));
    log('info', { lease: leaseId, server }, 'seat checked in');
    return result;
  }

  /** One API call with failover; `parse` runs inside the attempt so a malformed answer fails over too. */
  async call<T>(
    operation: Operation,
    request: Omit<HttpRequest, 'token'>,
    parse: ParseAnswer<T>,
    mode: CallMode & { readonly lease?: LeaseHandle | undefined },
  ): Promise<Served<T>> {
    await this.#deps.ready;
    this.#discovery?.start();
    const { options, log, count } = this.#deps;
    const { fetch, timeoutMs, token, retry, clock, random } = options;
    return withFailover(
      {
        balancer: this.#balancer,
        // A background pass tries each node once; the lease's own loop waits and tries again.
        policy: mode.background ? { ...retry, rounds: 1 } : retry,
        clock,
        random,
        signal: mode.signal,
        background: mode.background,
        prefer: mode.prefer,
        onAttempt: (report) => logAttempt(request, report, count, log),
        onFailover: (report) => this.#deps.onFailover(operation, report, mode.lease),
      },
      async (server, signal) => {
        // Read before sending: the node reads its clock later, so deadlines from here are never late.
        const sent = { mono: clock.monotonic(), wall: clock.now() };
        const answer = await httpCall(server, { ...request, token }, { fetch, timeoutMs, clock, signal });
        return parse(answer, server, sent, signal);
      },
    );
  }

  /** Verifies a grant (grant-check.ts) and remembers the node that served it. */
  checkGrant(
    operation: 'checkout' | 'renew',
    answer: HttpAnswer,
    server: string,
    sent: Anchor,
    signal: AbortSignal | undefined,
  ): Promise<Granted> {
    return checkGrant(this.#deps.grants, operation, answer, server, sent, signal).then((granted) => {
      this.affinity.served(granted.grant.id, server);
      return granted;
    });
  }
}
