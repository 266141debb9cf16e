import type { JSONWebKeySet } from 'jose';
import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { Emitter, type Listener } from '../events/emitter.js';
import type { Anchor } from '../lease/entitlement.js';
import type { Lease, LeaseEvents, Operation } from '../lease/lease.js';
import type {
  CallMode,
  CheckoutRequest,
  Granted,
  LeaseContext,
  RenewalPolicy,
} from '../lease/lease-context.js';
import { LeaseHandle } from '../lease/lease-handle.js';
import type { LeaseInfo } from '../lease/lease-info.js';
import { parseLeaseInfo } from '../lease/parse-lease.js';
import { type ClientCounter, newCounters } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import { errorFields, type Log, makeLog } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { TrustedTime } from '../time/trusted-time.js';
import { JWKS_PATH, parseJwks } from '../token/fetch-jwks.js';
import { JwksCache } from '../token/jwks-cache.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { type VerifyLeaseTokenOptions, verifyLeaseToken } from '../token/verify-lease-token.js';
import { Balancer } from '../transport/balancer.js';
import { NodeDiscovery } from '../transport/discovery.js';
import { type FailoverReport, type Served, withFailover } from '../transport/failover.js';
import { type HttpAnswer, type HttpRequest, httpCall } from '../transport/http-call.js';
import { logAttempt } from './attempt-log.js';
import { checkCheckoutArgs } from './checkout-args.js';
import { EpochWatermark } from './epoch-watermark.js';
import { checkGrant, type GrantCheckDeps } from './grant-check.js';
import { LeaseAffinity } from './lease-affinity.js';
import { logLeaseEvent } from './lease-event-log.js';
import { checkLeaseId, leasePath } from './lease-path.js';
import { LeaseRegistry } from './lease-registry.js';
import type { CheckoutOptions, ClientEvents, ClientMetrics, LeaseholdClient } from './leasehold-client.js';
import type { ResolvedOptions } from './options.js';
import { RenewalBatcher } from './renewal-batch.js';
import { StateFile } from './state-file.js';

/** The {@link LeaseholdClient} that `createClient` returns: leases over HTTP with failover. */
export class HttpLeaseholdClient implements LeaseholdClient, LeaseContext {
  readonly #options: ResolvedOptions;
  readonly #balancer: Balancer;
  readonly #discovery: NodeDiscovery | undefined;
  readonly #jwks: JwksCache;
  readonly #trusted: TrustedTime;
  readonly #counters = newCounters();
  readonly #emitter: Emitter<ClientEvents>;
  readonly #leases = new LeaseRegistry();
  readonly #state: StateFile;
  readonly #affinity = new LeaseAffinity();
  readonly #grantDeps: GrantCheckDeps;
  readonly #ready: Promise<void>;
  readonly #renewals: RenewalBatcher;
  readonly log: Log;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.log = makeLog(options.logger);
    this.#emitter = new Emitter((error, event) =>
      this.log('error', { ...errorFields(error), event }, 'a client event listener threw'),
    );
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
        if (state === 'open') this.#count('circuitOpens');
        publish('circuit', () => ({ server, state }));
        this.log(state === 'open' ? 'warn' : 'info', { server, circuit: state }, `circuit ${state}`);
      },
    });
    this.#trusted = new TrustedTime(options.clock);
    this.#jwks = new JwksCache(() => void this.#state.save(true));
    const count = (counter: ClientCounter) => this.#count(counter);
    // A higher epoch is saved at once: a restart must not forget that the old primary was superseded.
    const epochs = new EpochWatermark(() => void this.#state.save(true));
    this.#grantDeps = { options, jwks: this.#jwks, trusted: this.#trusted, epochs, count };
    this.#state = new StateFile(
      options.stateStore,
      options.clock,
      { trusted: this.#trusted, jwks: this.#jwks, epochs },
      this.log,
    );
    if (options.discoveryIntervalMs !== undefined) {
      this.#discovery = new NodeDiscovery({
        balancer: this.#balancer,
        load: async (signal) =>
          (
            await this.#call('cluster', { method: 'GET', path: 'v1/cluster' }, (a) => a.body, {
              signal,
              background: true,
            })
          ).result,
        clock: options.clock,
        intervalMs: options.discoveryIntervalMs,
        httpsOnly: options.servers.some((s) => s.startsWith('https:')),
        log: this.log,
      });
    }
    this.#ready = this.#state.load();
    this.#renewals = new RenewalBatcher({
      clock: options.clock,
      clientId: options.client.id,
      log: this.log,
      held: () => this.#leases.values(),
      renewOne: (lease, leaseId, mode) => this.#renewCall(lease, leaseId, mode),
      call: (operation, request, parse, mode) => this.#call(operation, request, parse, mode),
      checkGrant: (answer, server, sent, signal) => this.#checkGrant('renew', answer, server, sent, signal),
      prefer: (leaseIds) => this.#affinity.forLeases(leaseIds),
      count,
    });
    if (!options.trust) {
      // Loud on purpose, logger or not: a product shipped like this unlocks for any node (issue 11).
      const message =
        'insecureSkipVendorCheck is set: grants are NOT checked against the vendor keys, so any Leasehold ' +
        'node — one whose operator made their own "vendor" key — unlocks this product. Development only.';
      if (options.logger?.warn) this.log('warn', { insecureSkipVendorCheck: true }, message);
      else globalThis.console?.warn?.(`@leasehold/client: ${message}`);
    }
  }

  get clock(): Clock {
    return this.#options.clock;
  }
  get random(): () => number {
    return this.#options.random;
  }
  get renewal(): RenewalPolicy {
    return this.#options.renewal;
  }
  get servers(): readonly string[] {
    return this.#balancer.servers;
  }
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async checkout(feature: string, options: CheckoutOptions = {}): Promise<Lease> {
    const { license, requestId, autoRenew, signal } = checkCheckoutArgs(feature, options, () =>
      this.newRequestId(),
    );
    this.#throwIfClosed();
    const granted = await this.checkoutSeat(
      undefined,
      { feature, license, requestId },
      {
        signal,
        background: false,
      },
    );
    const lease = new LeaseHandle(granted, this, { ...(license ? { license } : {}), autoRenew });
    if (this.closed) {
      // close() began while this checkout was in flight: it must not leave a seat behind.
      await lease.release().catch(() => undefined);
      this.#throwIfClosed();
    }
    this.#leases.add(lease);
    publish('lease', () => ({ event: 'checkout', lease: lease.toJSON(), server: granted.server }));
    this.log('info', { lease: lease.id, feature, server: granted.server }, 'seat checked out');
    return lease;
  }

  isEntitled(feature: string): boolean {
    return this.#leases.isEntitled(feature);
  }

  async renew(leaseId: string): Promise<Lease> {
    checkLeaseId(leaseId);
    const held = this.#leases.get(leaseId);
    if (held) return held.renew();
    this.#throwIfClosed();
    const granted = await this.#renewCall(undefined, leaseId, { background: false });
    // A lease this client did not check out (another process's, or from before a restart): it is
    // tracked from now on, for isEntitled and events, but not renewed automatically.
    const lease = new LeaseHandle(granted, this, { autoRenew: false });
    this.#leases.add(lease);
    return lease;
  }

  async release(leaseId: string): Promise<LeaseInfo> {
    checkLeaseId(leaseId);
    const held = this.#leases.get(leaseId);
    if (held) return held.release();
    return this.#releaseCall(undefined, leaseId);
  }

  async jwks(): Promise<JSONWebKeySet> {
    const { result } = await this.#call(
      'jwks',
      { method: 'GET', path: JWKS_PATH },
      (answer, server) => parseJwks(answer.body, server),
      { background: false },
    );
    this.#count('jwksFetches');
    this.#jwks.set(result);
    return result;
  }

  async verify(token: string, options: VerifyLeaseTokenOptions = {}): Promise<LeaseTokenClaims> {
    await this.#ready;
    const jwks = this.#jwks.current ?? (await this.jwks());
    const effective = {
      ...options,
      now: options.now ?? this.#trusted.now(),
      clientId: options.clientId ?? this.#options.client.id,
    };
    try {
      return await verifyLeaseToken(token, jwks, effective);
    } catch (err) {
      if (!isLeaseholdClientError(err, 'TOKEN_KID_UNKNOWN')) throw err;
      const fresh = await this.jwks().catch(() => {
        throw err; // offline: the unknown key is the answer
      });
      return verifyLeaseToken(token, fresh, effective);
    }
  }

  metrics(): ClientMetrics {
    const leases = { active: 0, degraded: 0, lost: 0 };
    for (const lease of this.#leases.values()) {
      if (lease.status !== 'closed') leases[lease.status]++;
    }
    return {
      counters: Object.freeze({ ...this.#counters }),
      leases,
      nodes: this.#balancer.snapshot(),
      discovery: this.#discovery?.state ?? 'off',
    };
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.#emitter.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.#emitter.off(event, listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#discovery?.stop();
      const leases = [...this.#leases.values()];
      const results = await Promise.allSettled(leases.map((lease) => lease.release()));
      results.forEach((result, i) => {
        if (result.status === 'rejected') {
          this.log(
            'warn',
            { ...errorFields(result.reason), lease: leases[i]?.id },
            'could not check a seat in at close; it frees itself at its expiry',
          );
        }
      });
      await this.#state.save(true);
    })();
    return this.#closing;
  }

  // --- LeaseContext: what leases call back into ---

  newRequestId(): string {
    return globalThis.crypto.randomUUID();
  }

  renewLease(lease: LeaseHandle, leaseId: string, mode: CallMode): Promise<Granted> {
    return this.#renewals.renew(lease, leaseId, mode);
  }

  async checkoutSeat(
    lease: LeaseHandle | undefined,
    request: CheckoutRequest,
    mode: CallMode,
  ): Promise<Granted> {
    const body = {
      feature: request.feature,
      license: request.license,
      client: this.#options.client,
      requestId: request.requestId,
    };
    const { result } = await this.#call(
      'checkout',
      { method: 'POST', path: 'v1/leases', body },
      async (answer, server, sent, signal) => {
        const granted = await this.#checkGrant('checkout', answer, server, sent, signal);
        if (granted.grant.requestId !== request.requestId || granted.grant.feature !== request.feature) {
          throw new LeaseholdClientError('BAD_RESPONSE', `${server} answered a checkout with another lease`, {
            server,
          });
        }
        return granted;
      },
      { ...mode, lease },
    );
    this.#count('checkouts');
    return result;
  }

  releaseLease(lease: LeaseHandle, leaseId: string): Promise<LeaseInfo> {
    return this.#releaseCall(lease, leaseId);
  }

  notify<K extends keyof LeaseEvents>(event: K, payload: LeaseEvents[K]): void {
    const lease = (payload as { lease?: Lease }).lease;
    if (event === 'renewed') void this.#state.save(false);
    if (event === 'replaced') this.#leases.rename((payload as LeaseEvents['replaced']).previousId);
    logLeaseEvent(event, payload, (counter) => this.#count(counter), this.log);
    if (event !== 'failover') {
      publish('lease', () => ({ ...payload, event, lease: (lease as LeaseHandle | undefined)?.toJSON() }));
    }
    this.#emitter.emit(event, payload);
  }

  forget(lease: LeaseHandle): void {
    this.#leases.delete(lease);
    this.#affinity.forget(lease.id);
  }

  // --- internals ---

  async #renewCall(lease: LeaseHandle | undefined, leaseId: string, mode: CallMode): Promise<Granted> {
    try {
      const { result } = await this.#call(
        'renew',
        { method: 'POST', path: leasePath(leaseId, this.#options.client.id, '/renew') },
        async (answer, server, sent, signal) => {
          const granted = await this.#checkGrant('renew', answer, server, sent, signal);
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
        { ...mode, lease, prefer: this.#affinity.of(leaseId) },
      );
      this.#count('renewals');
      return result;
    } catch (err) {
      if (isLeaseholdClientError(err) && err.retryable) this.#count('renewalFailures');
      throw err;
    }
  }

  async #releaseCall(lease: LeaseHandle | undefined, leaseId: string): Promise<LeaseInfo> {
    const { result, server } = await this.#call(
      'release',
      { method: 'DELETE', path: leasePath(leaseId, this.#options.client.id) },
      (answer, s) => parseLeaseInfo(answer.body, s),
      { background: false, lease },
    );
    this.#count('releases');
    this.#affinity.forget(leaseId);
    publish('lease', () => ({ event: 'released', lease: result, server }));
    this.log('info', { lease: leaseId, server }, 'seat checked in');
    return result;
  }

  /** One API call with failover; `parse` runs inside the attempt so a malformed answer fails over too. */
  async #call<T>(
    operation: Operation,
    request: Omit<HttpRequest, 'token'>,
    parse: (
      answer: HttpAnswer,
      server: string,
      sent: Anchor,
      signal: AbortSignal | undefined,
    ) => T | Promise<T>,
    mode: CallMode & { readonly lease?: LeaseHandle | undefined },
  ): Promise<Served<T>> {
    await this.#ready;
    this.#discovery?.start();
    const { fetch, timeoutMs, token, retry, clock, random } = this.#options;
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
        onAttempt: (report) => logAttempt(request, report, (counter) => this.#count(counter), this.log),
        onFailover: (report) => this.#onFailover(operation, report, mode.lease),
      },
      async (server, signal) => {
        // Read before sending: the node reads its clock later, so deadlines from here are never late.
        const sent = { mono: clock.monotonic(), wall: clock.now() };
        const answer = await httpCall(server, { ...request, token }, { fetch, timeoutMs, clock, signal });
        return parse(answer, server, sent, signal);
      },
    );
  }

  #onFailover(operation: Operation, report: FailoverReport, lease: LeaseHandle | undefined): void {
    const payload = { lease, operation, ...report };
    if (lease) lease.dispatch('failover', payload);
    else this.notify('failover', payload);
  }

  #count(counter: ClientCounter): void {
    this.#counters[counter]++;
  }

  #throwIfClosed(): void {
    if (this.closed) throw new LeaseholdClientError('CLIENT_CLOSED', 'the Leasehold client is closed');
  }

  #checkGrant(
    operation: 'checkout' | 'renew',
    answer: HttpAnswer,
    server: string,
    sent: Anchor,
    signal: AbortSignal | undefined,
  ): Promise<Granted> {
    return checkGrant(this.#grantDeps, operation, answer, server, sent, signal).then((granted) => {
      this.#affinity.served(granted.grant.id, server);
      return granted;
    });
  }
}
