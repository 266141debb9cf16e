import type { JSONWebKeySet } from 'jose';
import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { Emitter, type Listener } from '../events/emitter.js';
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
import { type ClientCounter, newCounters } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import { errorFields, type Log, makeLog } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { TrustedTime } from '../time/trusted-time.js';
import { JWKS_PATH, parseJwks } from '../token/fetch-jwks.js';
import { JwksCache } from '../token/jwks-cache.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { type VerifyLeaseTokenOptions, verifyLeaseToken } from '../token/verify-lease-token.js';
import type { FailoverReport } from '../transport/failover.js';
import { checkCheckoutArgs } from './checkout-args.js';
import { ClusterCalls } from './cluster-calls.js';
import { EpochWatermark } from './epoch-watermark.js';
import { logLeaseEvent } from './lease-event-log.js';
import { checkLeaseId } from './lease-path.js';
import { LeaseRegistry } from './lease-registry.js';
import type { CheckoutOptions, ClientEvents, ClientMetrics, LeaseholdClient } from './leasehold-client.js';
import type { ResolvedOptions } from './options.js';
import { RenewalBatcher } from './renewal-batch.js';
import { StateFile } from './state-file.js';

/**
 * The {@link LeaseholdClient} that `createClient` returns: leases over HTTP with failover. It holds the
 * leases, their events and the saved state; the calls themselves (failover, discovery, grant checks) are
 * cluster-calls.ts's.
 */
export class HttpLeaseholdClient implements LeaseholdClient, LeaseContext {
  readonly #options: ResolvedOptions;
  readonly #calls: ClusterCalls;
  readonly #jwks: JwksCache;
  readonly #trusted: TrustedTime;
  readonly #counters = newCounters();
  readonly #emitter: Emitter<ClientEvents>;
  readonly #leases = new LeaseRegistry();
  readonly #state: StateFile;
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
    this.#trusted = new TrustedTime(options.clock);
    this.#jwks = new JwksCache(() => void this.#state.save(true));
    const count = (counter: ClientCounter) => this.#count(counter);
    // A higher epoch is saved at once: a restart must not forget that the old primary was superseded.
    const epochs = new EpochWatermark(() => void this.#state.save(true));
    this.#state = new StateFile(
      options.stateStore,
      options.clock,
      { trusted: this.#trusted, jwks: this.#jwks, epochs },
      this.log,
    );
    this.#ready = this.#state.load();
    this.#calls = new ClusterCalls({
      options,
      log: this.log,
      ready: this.#ready,
      grants: { options, jwks: this.#jwks, trusted: this.#trusted, epochs, count },
      count,
      onFailover: (operation, report, lease) => this.#onFailover(operation, report, lease),
    });
    this.#renewals = new RenewalBatcher({
      clock: options.clock,
      clientId: options.client.id,
      log: this.log,
      held: () => this.#leases.values(),
      renewOne: (lease, leaseId, mode) => this.#calls.renew(lease, leaseId, mode),
      call: (operation, request, parse, mode) => this.#calls.call(operation, request, parse, mode),
      checkGrant: (answer, server, sent, signal) =>
        this.#calls.checkGrant('renew', answer, server, sent, signal),
      prefer: (leaseIds) => this.#calls.affinity.forLeases(leaseIds),
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
    return this.#calls.servers;
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
    const granted = await this.#calls.renew(undefined, leaseId, { background: false });
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
    return this.#calls.release(undefined, leaseId);
  }

  async jwks(): Promise<JSONWebKeySet> {
    const { result } = await this.#calls.call(
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
      nodes: this.#calls.nodes(),
      discovery: this.#calls.discovery,
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
      this.#calls.stopDiscovery();
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
    return this.#calls.checkout(lease, request, mode);
  }

  releaseLease(lease: LeaseHandle, leaseId: string): Promise<LeaseInfo> {
    return this.#calls.release(lease, leaseId);
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
    this.#calls.affinity.forget(lease.id);
  }

  // --- internals ---

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
}
