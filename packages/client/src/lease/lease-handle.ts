import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { Emitter, type Listener } from '../events/emitter.js';
import { errorFields } from '../observability/logger.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { type Entitlement, elapsedSince } from './entitlement.js';
import type { Lease, LeaseEvents, LeaseStatus, LostReason } from './lease.js';
import type { Granted, LeaseContext } from './lease-context.js';
import type { LeaseGrant, LeaseInfo, LeaseState } from './lease-info.js';
import { afterFailure, retryDelay } from './renewal-failure.js';

// Renewals start up to 10% early at random, so that clients granted together do not renew together.
const RENEW_JITTER = 0.1;

/**
 * The SDK's {@link Lease}: the state machine behind it.
 *
 *   active ──renewal pass fails (no node answers)──▶ degraded ──expiry + grace──▶ lost
 *     ▲                                                 │                          │
 *     └────────────── a pass succeeds ◀─────────────────┴──────────────────────────┘
 *   any ──release() / close() / LEASE_REVOKED / LEASE_RELEASED / other refusal──▶ closed
 *
 * When a node answers LEASE_EXPIRED (or LEASE_NOT_FOUND), the lease ended on the cluster; the next pass
 * checks a new seat out with a new request id — reused on every retry of that checkout, so an answer lost
 * on the way back never costs a second seat — and emits `replaced`.
 *
 * Not exported: applications get leases from the client.
 */
export class LeaseHandle implements Lease {
  readonly #ctx: LeaseContext;
  readonly #emitter: Emitter<LeaseEvents>;
  readonly #license: string | undefined;
  readonly #autoRenew: boolean;
  #view: LeaseInfo;
  #token: string;
  #claims: LeaseTokenClaims;
  #entitlement: Entitlement;
  #status: LeaseStatus = 'active';
  /** Failed passes in a row, for the backoff. */
  #failures = 0;
  /** The lease ended on the cluster: the next pass checks a new one out. */
  #needsCheckout = false;
  /** The request id of a re-checkout whose outcome is not known yet. */
  #pendingRequestId: string | undefined;
  #cancelRenewal: (() => void) | undefined;
  #cancelDeadline: (() => void) | undefined;
  #pass: Promise<LeaseholdClientError | undefined> | undefined;
  #releasing: Promise<LeaseInfo> | undefined;
  readonly #abort = new AbortController();

  constructor(granted: Granted, ctx: LeaseContext, options: { license?: string; autoRenew: boolean }) {
    this.#ctx = ctx;
    this.#license = options.license;
    this.#autoRenew = options.autoRenew;
    this.#emitter = new Emitter((error, event) =>
      ctx.log('error', { ...errorFields(error), event }, 'a lease event listener threw'),
    );
    this.#view = granted.grant;
    this.#token = granted.grant.token;
    this.#claims = granted.claims;
    this.#entitlement = granted.entitlement;
    this.#arm();
  }

  get id(): string {
    return this.#view.id;
  }
  get license(): string {
    return this.#view.license;
  }
  get feature(): string {
    return this.#view.feature;
  }
  get state(): LeaseState {
    return this.#view.state;
  }
  get slot(): number {
    return this.#view.slot;
  }
  get fence(): number {
    return this.#view.fence;
  }
  get requestId(): string {
    return this.#view.requestId;
  }
  get renewedAt(): Date {
    return new Date(this.#view.renewedAt);
  }
  get expiresAt(): Date {
    return new Date(this.#view.expiresAt);
  }
  get renewAfter(): Date {
    return new Date(this.#view.renewAfter);
  }
  get reservedUntil(): Date {
    return new Date(this.#view.reservedUntil);
  }
  get graceSeconds(): number {
    return this.#view.graceSeconds;
  }
  get endedAt(): Date | undefined {
    return this.#view.endedAt && new Date(this.#view.endedAt);
  }
  get token(): string {
    return this.#token;
  }
  get claims(): LeaseTokenClaims {
    return this.#claims;
  }
  get status(): LeaseStatus {
    return this.#status;
  }

  get entitled(): boolean {
    if (this.#status !== 'active' && this.#status !== 'degraded') return false;
    if (this.#entitledForMs() > 0) return true;
    // The deadline passed before its timer fired (a wall clock that says so, a late timer): lose it now,
    // telling listeners from a microtask rather than from inside this getter.
    this.#lose('unreachable', undefined, false, true);
    return false;
  }

  get entitledUntil(): Date | undefined {
    if (!this.entitled) return undefined;
    return new Date(this.#ctx.clock.now() + this.#entitledForMs());
  }

  /** What is left of the current entitlement, by the token alone (whatever the status). */
  #entitledForMs(): number {
    return this.#entitlement.endMs - elapsedSince(this.#entitlement.anchor, this.#ctx.clock);
  }

  on<K extends keyof LeaseEvents>(event: K, listener: Listener<LeaseEvents[K]>): () => void {
    return this.#emitter.on(event, listener);
  }

  off<K extends keyof LeaseEvents>(event: K, listener: Listener<LeaseEvents[K]>): void {
    this.#emitter.off(event, listener);
  }

  /** Emits on this lease and on its client. */
  dispatch<K extends keyof LeaseEvents>(event: K, payload: LeaseEvents[K]): void {
    this.#emitter.emit(event, payload);
    this.#ctx.notify(event, payload);
  }

  async renew(): Promise<Lease> {
    if (this.#status === 'closed') {
      // Nothing to manage any more; ask the cluster anyway, so the caller hears its reason
      // (LEASE_RELEASED, LEASE_REVOKED, ...).
      const granted = await this.#ctx.renewLease(this, this.#view.id, { background: false });
      this.#adopt(granted);
      return this;
    }
    await this.#pass; // one pass at a time
    const error = await this.#runPass(false);
    if (error) throw error;
    return this;
  }

  release(): Promise<LeaseInfo> {
    if (this.#releasing) return this.#releasing;
    this.#close();
    // A re-checkout in flight is abandoned; if a node granted it anyway, that seat frees itself at its
    // expiry (invariant 4): the SDK never learned its id.
    this.#abort.abort(new LeaseholdClientError('CLIENT_CLOSED', 'the lease was released'));
    const releasing = this.#ctx.releaseLease(this, this.#view.id).then(
      (final) => {
        this.#view = final;
        return final;
      },
      (err: unknown) => {
        this.#releasing = undefined; // may be tried again
        throw err;
      },
    );
    this.#releasing = releasing;
    return releasing;
  }

  /**
   * Renews now, in the background, if this lease is active, idle and past half of its renewal interval:
   * the client asks when another lease's renewal goes out, so one call renews both (renewal-batch.ts).
   */
  renewWithOthers(): void {
    if (this.#status !== 'active' || this.#pass || this.#needsCheckout || !this.#autoRenew) return;
    if (this.#renewalDueIn() <= this.#entitlement.renewMs / 2) void this.#runPass(true);
  }

  /** A plain snapshot for logs and `JSON.stringify`; the token is left out. */
  toJSON(): LeaseInfo & { status: LeaseStatus } {
    // The view may be a grant: leave its token (a bearer credential for this seat) out of logs.
    const {
      token: _token,
      renewInSeconds: _advice,
      chain: _chain,
      ...info
    } = this.#view as Partial<LeaseGrant> & LeaseInfo;
    return { ...info, status: this.#status };
  }

  /** One renewal pass (or re-checkout); never throws, returns the failure. */
  #runPass(background: boolean): Promise<LeaseholdClientError | undefined> {
    const pass = this.#doPass(background).finally(() => {
      if (this.#pass === pass) this.#pass = undefined;
    });
    this.#pass = pass;
    return pass;
  }

  async #doPass(background: boolean): Promise<LeaseholdClientError | undefined> {
    this.#cancelRenewal?.();
    const mode = { signal: this.#abort.signal, background };
    try {
      let granted: Granted;
      if (this.#needsCheckout) {
        this.#pendingRequestId ??= this.#ctx.newRequestId();
        granted = await this.#ctx.checkoutSeat(
          this,
          { feature: this.feature, license: this.#license, requestId: this.#pendingRequestId },
          mode,
        );
      } else {
        granted = await this.#ctx.renewLease(this, this.#view.id, mode);
      }
      if (this.#status !== 'closed') return this.#succeeded(granted);
      return undefined;
    } catch (err) {
      const error =
        err instanceof LeaseholdClientError
          ? err
          : new LeaseholdClientError('BAD_RESPONSE', `renewal failed: ${String(err)}`, { cause: err });
      if (this.#status !== 'closed' && !this.#abort.signal.aborted) this.#failed(error);
      return error;
    }
  }

  #succeeded(granted: Granted): LeaseholdClientError | undefined {
    const replaced = this.#needsCheckout;
    const previousId = this.#view.id;
    const before = this.#status;
    if (!this.#adopt(granted) && !replaced && this.#renewalDueIn() <= 0) {
      // The answer moves nothing forward (the token already held, or an older one) while a renewal is
      // due: a stale or replayed answer. It counts as a failed pass, or the schedule would spin.
      const stale = new LeaseholdClientError(
        'BAD_RESPONSE',
        `${granted.server} answered with no newer lease token`,
        {
          server: granted.server,
        },
      );
      this.#failed(stale);
      return stale;
    }
    this.#failures = 0;
    this.#needsCheckout = false;
    this.#pendingRequestId = undefined;
    this.#status = 'active';
    this.#arm();
    if (replaced) this.dispatch('replaced', { lease: this, previousId });
    else this.dispatch('renewed', { lease: this, server: granted.server });
    if (before === 'degraded' || before === 'lost') {
      this.dispatch('restored', { lease: this, server: granted.server, replaced });
    }
    return undefined;
  }

  /** Takes a grant's token and deadlines; returns false when they are not newer than those held. */
  #adopt(granted: Granted): boolean {
    // Answers may arrive out of order (an explicit renew racing a scheduled one); the store never
    // shortens a lease, so a token that expires earlier than the one held is the older answer.
    const sameLease = granted.grant.id === this.#view.id;
    if (sameLease && granted.claims.exp < this.#claims.exp) return false;
    // The very token already held, answered again (two renewals within one second, or a replayed
    // answer): it proves nothing new, so it must not restart the deadlines from this request's send time.
    if (granted.grant.token === this.#token) return false;
    this.#view = granted.grant;
    this.#token = granted.grant.token;
    this.#claims = granted.claims;
    this.#entitlement = granted.entitlement;
    return true;
  }

  /** Milliseconds until the held entitlement's renewal is due (before jitter). */
  #renewalDueIn(): number {
    const { anchor, renewMs } = this.#entitlement;
    return renewMs - (this.#ctx.clock.monotonic() - anchor.mono);
  }

  #failed(error: LeaseholdClientError): void {
    const next = afterFailure(error, this.#needsCheckout);
    switch (next.kind) {
      case 'retry': {
        // No node could answer: the signed token and its grace carry the feature meanwhile.
        this.#failures++;
        const entitledForMs = this.#entitledForMs();
        if (entitledForMs <= 0) {
          this.#lose('unreachable', error, false, false);
        } else if (this.#status === 'active') {
          this.#status = 'degraded';
          this.dispatch('degraded', { lease: this, error, entitledForMs });
        }
        this.#schedule(this.#retryDelay());
        return;
      }
      case 'check-out-anew':
        this.#needsCheckout = true;
        this.#pendingRequestId = undefined;
        this.#ctx.log(
          'info',
          { lease: this.#view.id, code: error.code },
          'lease ended on the cluster; checking out a new one',
        );
        this.#schedule(0);
        return;
      case 'new-request-id':
        this.#pendingRequestId = undefined;
        this.#failures++;
        this.#schedule(this.#retryDelay());
        return;
      case 'seats-taken':
        // Grace covers only silence, so the feature is locked now. No lease was made under that request
        // id; keep asking (the application can release() to stop).
        this.#pendingRequestId = undefined;
        this.#failures++;
        this.#lose('seats-exhausted', error, false, false);
        this.#schedule(this.#retryDelay());
        return;
      case 'final':
        this.#lose(next.reason, error, true, false);
    }
  }

  /** Leaves the entitled states; `final` closes the lease for good. */
  #lose(
    reason: LostReason,
    error: LeaseholdClientError | undefined,
    final: boolean,
    deferEvents: boolean,
  ): void {
    const wasEntitled = this.#status === 'active' || this.#status === 'degraded';
    if (this.#status === 'closed' || (!final && this.#status === 'lost')) return;
    this.#cancelDeadline?.();
    if (final) {
      this.#close();
    } else {
      this.#status = 'lost';
      // If the deadline came before a renewal was due (a late timer, a clock that jumped), try at once.
      if (this.#pass === undefined && this.#autoRenew) this.#schedule(0);
    }
    if (!wasEntitled && !final) return;
    const emit = () => this.dispatch('lost', { lease: this, reason, error, final });
    if (deferEvents) queueMicrotask(emit);
    else emit();
  }

  #close(): void {
    this.#status = 'closed';
    this.#cancelRenewal?.();
    this.#cancelDeadline?.();
    this.#ctx.forget(this);
  }

  /** Sets the renewal and deadline timers for the entitlement just adopted. */
  #arm(): void {
    const { anchor, renewMs, endMs } = this.#entitlement;
    const since = this.#ctx.clock.monotonic() - anchor.mono;
    this.#schedule(renewMs * (1 - RENEW_JITTER * this.#ctx.random()) - since);
    this.#cancelDeadline?.();
    const deadline = () => {
      if (this.#status !== 'active' && this.#status !== 'degraded') return;
      const left = endMs - elapsedSince(anchor, this.#ctx.clock);
      // Timers may fire early (a chained long wait, a fake clock): check, and wait again if not yet.
      if (left > 0) this.#cancelDeadline = this.#ctx.clock.setTimer(deadline, left, true);
      else this.#lose('unreachable', undefined, false, false);
    };
    this.#cancelDeadline = this.#ctx.clock.setTimer(deadline, Math.max(0, endMs - since), true);
  }

  #schedule(delayMs: number): void {
    this.#cancelRenewal?.();
    this.#cancelRenewal = undefined;
    if (!this.#autoRenew || this.#status === 'closed') return;
    this.#cancelRenewal = this.#ctx.clock.setTimer(
      () => {
        this.#cancelRenewal = undefined;
        if (this.#pass === undefined && this.#status !== 'closed') void this.#runPass(true);
      },
      Math.max(0, delayMs),
      true,
    );
  }

  #retryDelay(): number {
    return retryDelay(this.#ctx.renewal, this.#failures, this.#status === 'lost', () => this.#ctx.random());
  }
}
