import type { JSONWebKeySet } from 'jose';
import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { Emitter, type Listener } from '../events/emitter.js';
import { type Anchor, entitlementOf } from '../lease/entitlement.js';
import type { Lease, LeaseEvents, Operation } from '../lease/lease.js';
import {
  type CallMode,
  type CheckoutRequest,
  type Granted,
  type LeaseContext,
  LeaseHandle,
  type RenewalPolicy,
} from '../lease/lease-handle.js';
import type { LeaseInfo } from '../lease/lease-info.js';
import { parseLeaseGrant, parseLeaseInfo } from '../lease/parse-lease.js';
import { type ClientCounter, type Counters, newCounters } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import { errorFields, type Log, makeLog } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { TrustedTime } from '../time/trusted-time.js';
import { JWKS_PATH, parseJwks } from '../token/fetch-jwks.js';
import { JwksCache } from '../token/jwks-cache.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { type VerifyLeaseTokenOptions, verifyLeaseToken } from '../token/verify-lease-token.js';
import { Balancer, type NodeStatus } from '../transport/balancer.js';
import { type DiscoveryState, NodeDiscovery } from '../transport/discovery.js';
import { type AttemptReport, type FailoverReport, type Served, withFailover } from '../transport/failover.js';
import { type HttpAnswer, type HttpRequest, httpCall } from '../transport/http-call.js';
import { type ClientOptions, type ResolvedOptions, rejectUnknown, resolveOptions } from './options.js';

/** Options of {@link LeaseholdClient.checkout}. */
export interface CheckoutOptions {
  /** Draw the seat from this license; by default the node picks one that grants the feature. */
  readonly license?: string;
  /**
   * Idempotency key (8-128 of `A-Z a-z 0-9 . _ : -`). Defaults to a fresh UUID. Pass the same one to
   * retry a checkout whose outcome you do not know: the node answers with the same lease.
   */
  readonly requestId?: string;
  /**
   * Renew automatically, at about a third of the TTL, failing over between nodes (default `true`). With
   * `false`, call `lease.renew()` yourself before `renewAfter`; grace and events still work.
   */
  readonly autoRenew?: boolean;
  /** Cancels the checkout; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A snapshot for dashboards and exporters; see {@link LeaseholdClient.metrics}. */
export interface ClientMetrics {
  /** Counters since `createClient`; they only grow. */
  readonly counters: Readonly<Counters>;
  /** Leases this client holds now, by status. */
  readonly leases: { readonly active: number; readonly degraded: number; readonly lost: number };
  readonly nodes: readonly NodeStatus[];
  readonly discovery: DiscoveryState;
}

/** Events of a client: those of every lease it holds, and failovers of calls that concern no lease. */
export type ClientEvents = LeaseEvents;

/**
 * A connection to a Leasehold cluster. Every call goes to a node chosen by measured latency and load and
 * fails over to another on a network failure, a timeout or an error the node marks `retryable`; any
 * other error is thrown at once as a `LeaseholdClientError`, and so is `ALL_SERVERS_FAILED` when the
 * attempts run out. Leases renew themselves and report what happens to them as events.
 */
export interface LeaseholdClient {
  /** The nodes: the configured ones, normalized, then any discovered from the cluster. */
  readonly servers: readonly string[];
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Checks a seat of `feature` out and keeps it renewed. One request id serves every attempt, so a retry
   * on another node never takes a second seat.
   */
  checkout(feature: string, options?: CheckoutOptions): Promise<Lease>;
  /**
   * Whether a lease this client holds entitles it to `feature` now (active, or degraded within its
   * token's expiry plus signed grace). Synchronous, no I/O: call it on every use of the feature.
   */
  isEntitled(feature: string): boolean;
  /** Renews a lease by id (any node may renew any lease). */
  renew(leaseId: string): Promise<Lease>;
  /** Checks a seat in by lease id (idempotent); resolves to the lease's final view. */
  release(leaseId: string): Promise<LeaseInfo>;
  /** Downloads the cluster's JWK Set (with failover) and keeps it for verification. */
  jwks(): Promise<JSONWebKeySet>;
  /**
   * Verifies a lease token offline: against the kept JWK Set (downloaded when there is none, or again
   * when the token names a key it lacks), judged by this client's trusted time — the wall clock, but never
   * earlier than a time already seen, across restarts with a `stateStore`. `clientId` defaults to this
   * client's.
   */
  verify(token: string, options?: VerifyLeaseTokenOptions): Promise<LeaseTokenClaims>;
  metrics(): ClientMetrics;
  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void;
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void;
  /** Stops every renewal and checks every seat in; later calls throw `CLIENT_CLOSED`. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/; // the server's CheckoutBody.requestId
// A misspelt `requestId` would silently get a fresh id and lose idempotency: unknown keys are refused.
const CHECKOUT_KEYS: ReadonlySet<string> = new Set(['license', 'requestId', 'autoRenew', 'signal']);
// The wall-clock high-water mark is written at most this often while leases renew (and at close).
const SAVE_INTERVAL_MS = 60_000;
const STATE_VERSION = 1;

/**
 * Creates a client for a Leasehold cluster. Options are checked here (a mistake is a `TypeError` naming
 * it); no request is sent until the first call.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   servers: ['https://lic1.example.com', 'https://lic2.example.com'],
 *   token: process.env.LEASEHOLD_TOKEN!,
 *   clientId: machineId,
 * });
 * const lease = await client.checkout('cad');
 * if (client.isEntitled('cad')) runSolver();
 * await client.close();
 * ```
 */
export function createClient(options: ClientOptions): LeaseholdClient {
  return new HttpLeaseholdClient(resolveOptions(options));
}

class HttpLeaseholdClient implements LeaseholdClient, LeaseContext {
  readonly #options: ResolvedOptions;
  readonly #balancer: Balancer;
  readonly #discovery: NodeDiscovery | undefined;
  readonly #jwks: JwksCache;
  readonly #trusted: TrustedTime;
  readonly #counters = newCounters();
  readonly #emitter: Emitter<ClientEvents>;
  readonly #byFeature = new Map<string, Set<LeaseHandle>>();
  readonly #byId = new Map<string, LeaseHandle>();
  readonly #ready: Promise<void>;
  readonly log: Log;
  #closing: Promise<void> | undefined;
  #lastSave = Number.NEGATIVE_INFINITY;

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
    this.#jwks = new JwksCache(() => void this.#save(true));
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
    this.#ready = this.#load();
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
    if (typeof feature !== 'string' || feature === '')
      throw new TypeError('feature must be a non-empty string');
    rejectUnknown(options, CHECKOUT_KEYS, 'checkout option');
    const { license, autoRenew = true, signal } = options;
    if (license !== undefined && (typeof license !== 'string' || license === '')) {
      throw new TypeError('options.license must be a non-empty string');
    }
    if (typeof autoRenew !== 'boolean') throw new TypeError('options.autoRenew must be a boolean');
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError('options.signal must be an AbortSignal');
    }
    // Chosen once, before the first attempt: every retry and failover carries the same key (DESIGN.md,
    // invariant 2), so an attempt whose answer was lost is resolved by the store, not repeated.
    const requestId = options.requestId ?? this.newRequestId();
    if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
      throw new TypeError('options.requestId must be 8-128 characters of A-Z a-z 0-9 . _ : -');
    }
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
    this.#register(lease);
    publish('lease', () => ({ event: 'checkout', lease: lease.toJSON(), server: granted.server }));
    this.log('info', { lease: lease.id, feature, server: granted.server }, 'seat checked out');
    return lease;
  }

  isEntitled(feature: string): boolean {
    const leases = this.#byFeature.get(feature);
    if (leases === undefined) return false;
    for (const lease of leases) if (lease.entitled) return true;
    return false;
  }

  async renew(leaseId: string): Promise<Lease> {
    checkLeaseId(leaseId);
    const held = this.#byId.get(leaseId);
    if (held) return held.renew();
    this.#throwIfClosed();
    const granted = await this.#renewCall(undefined, leaseId, { background: false });
    // A lease this client did not check out (another process's, or from before a restart): it is
    // tracked from now on, for isEntitled and events, but not renewed automatically.
    const lease = new LeaseHandle(granted, this, { autoRenew: false });
    this.#register(lease);
    return lease;
  }

  async release(leaseId: string): Promise<LeaseInfo> {
    checkLeaseId(leaseId);
    const held = this.#byId.get(leaseId);
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
    for (const lease of this.#byId.values()) {
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
      const leases = [...this.#byId.values()];
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
      await this.#save(true);
    })();
    return this.#closing;
  }

  // --- LeaseContext: what leases call back into ---

  newRequestId(): string {
    return globalThis.crypto.randomUUID();
  }

  renewLease(lease: LeaseHandle, leaseId: string, mode: CallMode): Promise<Granted> {
    return this.#renewCall(lease, leaseId, mode);
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
        const granted = await this.#grant('checkout', answer, server, sent, signal);
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
    switch (event) {
      case 'failover': {
        const { from, to, operation, error } = payload as LeaseEvents['failover'];
        this.#count('failovers');
        publish('failover', () => ({ from, to, operation, error, lease: lease?.id }));
        this.log('warn', { from, to, operation, lease: lease?.id, ...errorFields(error) }, 'failed over');
        break;
      }
      case 'renewed':
        void this.#save(false);
        break;
      case 'degraded':
        this.#count('leasesDegraded');
        this.log(
          'warn',
          { lease: lease?.id, ...errorFields((payload as LeaseEvents['degraded']).error) },
          'lease degraded: no node answers',
        );
        break;
      case 'lost': {
        const { reason, final } = payload as LeaseEvents['lost'];
        this.#count('leasesLost');
        this.log('warn', { lease: lease?.id, reason, final }, 'lease lost');
        break;
      }
      case 'restored':
        this.#count('leasesRestored');
        this.log('info', { lease: lease?.id }, 'lease restored');
        break;
      case 'replaced': {
        const { previousId } = payload as LeaseEvents['replaced'];
        this.#count('leasesReplaced');
        const handle = this.#byId.get(previousId);
        if (handle) {
          this.#byId.delete(previousId);
          this.#byId.set(handle.id, handle);
        }
        this.log('info', { lease: lease?.id, previousId }, 'lease replaced by a new checkout');
        break;
      }
    }
    if (event !== 'failover') {
      publish('lease', () => ({ ...payload, event, lease: (lease as LeaseHandle | undefined)?.toJSON() }));
    }
    this.#emitter.emit(event, payload);
  }

  forget(lease: LeaseHandle): void {
    for (const [id, held] of this.#byId) if (held === lease) this.#byId.delete(id);
    const leases = this.#byFeature.get(lease.feature);
    leases?.delete(lease);
    if (leases?.size === 0) this.#byFeature.delete(lease.feature);
  }

  // --- internals ---

  #register(lease: LeaseHandle): void {
    if (lease.status === 'closed') return;
    this.#byId.set(lease.id, lease);
    let leases = this.#byFeature.get(lease.feature);
    if (!leases) {
      leases = new Set();
      this.#byFeature.set(lease.feature, leases);
    }
    leases.add(lease);
  }

  async #renewCall(lease: LeaseHandle | undefined, leaseId: string, mode: CallMode): Promise<Granted> {
    try {
      const { result } = await this.#call(
        'renew',
        { method: 'POST', path: `${leasePath(leaseId)}/renew` },
        async (answer, server, sent, signal) => {
          const granted = await this.#grant('renew', answer, server, sent, signal);
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
        { ...mode, lease },
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
      { method: 'DELETE', path: leasePath(leaseId) },
      (answer, s) => parseLeaseInfo(answer.body, s),
      { background: false, lease },
    );
    this.#count('releases');
    publish('lease', () => ({ event: 'released', lease: result, server }));
    this.log('info', { lease: leaseId, server }, 'seat checked in');
    return result;
  }

  /**
   * Reads a grant and verifies its token inside the attempt, so that a node sending a bad token is failed
   * over like any broken answer (a checkout's request id makes the next node return the same lease).
   */
  async #grant(
    operation: 'checkout' | 'renew',
    answer: HttpAnswer,
    server: string,
    sent: Anchor,
    signal: AbortSignal | undefined,
  ): Promise<Granted> {
    const grant = parseLeaseGrant(answer.body, server);
    // Every answer raises the wall-clock high-water mark (for `verify` and the state store).
    this.#trusted.now();
    let claims: LeaseTokenClaims;
    try {
      // Judged by the raw wall clock, with the skew tolerance: this only refuses stale (replayed) answers.
      // The high-water mark is not used here: a clock stepped forward by mistake and back would otherwise
      // lock the client out until real time caught up. Deadlines do not depend on it (monotonic anchors).
      claims = await this.#jwks.verifyFrom(server, () => this.#downloadJwks(server, signal), grant.token, {
        now: this.#options.clock.now(),
        clockToleranceMs: this.#options.maxClockSkewMs,
        clientId: this.#options.client.id,
      });
    } catch (err) {
      if (!isLeaseholdClientError(err) || !err.code.startsWith('TOKEN_')) throw err;
      this.#count('tokensRejected');
      const hint =
        err.code === 'TOKEN_EXPIRED' ? ' (is this machine’s clock far ahead of the cluster’s?)' : '';
      throw new LeaseholdClientError(
        err.code,
        `${server} sent a lease token that fails verification: ${err.message}${hint}`,
        {
          server,
          retryable: true, // another node signs with the cluster key; see CLIENT_ERROR_CODES
          cause: err,
        },
      );
    }
    // The JSON view is not signed: it must describe the lease the token names.
    const mismatch = (
      [
        ['jti', claims.jti, grant.id],
        ['feat', claims.feat, grant.feature],
        ['lic', claims.lic, grant.license],
        ['fence', claims.fence, grant.fence],
        ['slot', claims.slot, grant.slot],
      ] as const
    ).find(([, signed, shown]) => signed !== shown);
    if (mismatch) {
      this.#count('tokensRejected');
      throw new LeaseholdClientError(
        'TOKEN_INVALID',
        `${server} sent a lease whose token has another ${mismatch[0]}`,
        {
          server,
          retryable: true,
        },
      );
    }
    this.#count('tokensVerified');
    // A renewal is always granted at its own send time; a checkout only when new (201), not replayed (200).
    const fresh = operation === 'renew' || answer.status === 201;
    const entitlement = entitlementOf(grant, claims, sent, fresh, this.#options.maxClockSkewMs);
    return { grant, claims, entitlement, server };
  }

  async #downloadJwks(server: string, signal: AbortSignal | undefined): Promise<JSONWebKeySet> {
    const { fetch, timeoutMs, clock } = this.#options;
    const answer = await httpCall(
      server,
      { method: 'GET', path: JWKS_PATH },
      { fetch, timeoutMs, clock, signal },
    );
    this.#count('jwksFetches');
    return parseJwks(answer.body, server);
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
        onAttempt: (report) => this.#onAttempt(request, report),
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

  #onAttempt(request: Omit<HttpRequest, 'token'>, report: AttemptReport): void {
    this.#count('requests');
    const { server, durationMs, error } = report;
    if (error?.retryable) {
      this.#count('requestFailures');
      this.log('debug', { server, path: request.path, ...errorFields(error) }, 'attempt failed');
    }
    publish('request', () => ({
      server,
      method: request.method,
      path: request.path,
      durationMs,
      status: error?.status,
      error,
    }));
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

  /** Reads the state store once; a missing or broken state is not an error. */
  async #load(): Promise<void> {
    const store = this.#options.stateStore;
    if (!store) return;
    try {
      const text = await store.load();
      if (!text) return;
      const state = JSON.parse(text) as { v?: unknown; hwm?: unknown; jwks?: unknown };
      if (state.v !== STATE_VERSION) return;
      if (typeof state.hwm === 'number') this.#trusted.observe(state.hwm);
      if (state.jwks !== undefined) this.#jwks.set(parseJwks(state.jwks, 'state store'));
    } catch (err) {
      this.log('warn', errorFields(err), 'could not read the state store; starting without it');
    }
  }

  /** Writes the state store: at once when `force`, else at most every SAVE_INTERVAL_MS. Never throws. */
  async #save(force: boolean): Promise<void> {
    const store = this.#options.stateStore;
    if (!store) return;
    const now = this.#options.clock.monotonic();
    if (!force && now - this.#lastSave < SAVE_INTERVAL_MS) return;
    this.#lastSave = now;
    try {
      await store.save(
        JSON.stringify({ v: STATE_VERSION, hwm: this.#trusted.now(), jwks: this.#jwks.current }),
      );
    } catch (err) {
      this.log('warn', errorFields(err), 'could not write the state store');
    }
  }
}

function checkLeaseId(leaseId: string): void {
  if (typeof leaseId !== 'string' || leaseId === '')
    throw new TypeError('leaseId must be a non-empty string');
}

function leasePath(leaseId: string): string {
  checkLeaseId(leaseId);
  return `v1/leases/${encodeURIComponent(leaseId)}`;
}
