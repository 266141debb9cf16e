/** How a node's circuit breaker behaves; see {@link ClientOptions.circuitBreaker}. */
export interface BreakerPolicy {
  /** Consecutive retryable failures that open the circuit. */
  readonly failures: number;
  /** How long an opened circuit waits before a probe may test the node; doubles after each failed probe. */
  readonly cooldownMs: number;
  /** Upper bound of the doubling cool-down. */
  readonly maxCooldownMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = Object.freeze({
  // One failure is enough: a dead node's next attempt costs a whole timeout (3 s by default) and there
  // are other nodes to ask. With every circuit open the balancer still tries the node due back first.
  failures: 1,
  cooldownMs: 1000,
  maxCooldownMs: 30_000,
});

/**
 * - `closed`: calls go to the node.
 * - `open`: calls skip the node (unless every node is open) until a probe finds it ready again.
 * - `half-open`: a probe is testing the node now.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * One node's breaker. An open circuit is tested by a probe (`GET /readyz`, sent by the balancer in the
 * background once the cool-down has passed), never by an application's call: a renewal does not pay a
 * timeout to find out whether a dead node is back. All times are monotonic milliseconds passed in by the
 * caller, so a wall-clock step never holds a circuit open — unlike cockatiel 3's breaker, which reads
 * `Date.now()` (`CircuitBreakerPolicy.js`), the reason this SDK has its own.
 */
export class CircuitBreaker {
  readonly #policy: BreakerPolicy;
  #open = false;
  #probing = false;
  #failures = 0;
  #openedAt = 0;
  #cooldown: number;

  constructor(policy: BreakerPolicy) {
    this.#policy = policy;
    this.#cooldown = policy.cooldownMs;
  }

  get state(): CircuitState {
    return this.#probing ? 'half-open' : this.#open ? 'open' : 'closed';
  }

  /** Whether calls may go to the node. */
  get closed(): boolean {
    return !this.#open;
  }

  /** Whether a probe should test the node now. */
  probeDue(now: number): boolean {
    return this.#open && !this.#probing && now - this.#openedAt >= this.#cooldown;
  }

  /** Milliseconds until a probe is due (0 when it is, or when the circuit is closed). */
  reopensIn(now: number): number {
    return this.#open ? Math.max(0, this.#openedAt + this.#cooldown - now) : 0;
  }

  /** A probe starts. */
  beginProbe(): CircuitState {
    this.#probing = true;
    return 'half-open';
  }

  /** The node answered (a call or a probe). Returns the new state when it changed. */
  success(): CircuitState | undefined {
    const changed = this.#open;
    this.#open = false;
    this.#probing = false;
    this.#failures = 0;
    this.#cooldown = this.#policy.cooldownMs;
    return changed ? 'closed' : undefined;
  }

  /** The node failed with a retryable error, or a probe failed. Returns the new state when it changed. */
  failure(now: number, probe = false): CircuitState | undefined {
    this.#failures++;
    if (probe) {
      this.#probing = false;
      this.#cooldown = Math.min(this.#policy.maxCooldownMs, this.#cooldown * 2);
      this.#openedAt = now;
      return 'open';
    }
    // Already open (a last-resort call failed): the cool-down keeps running from its start.
    if (this.#open || this.#failures < this.#policy.failures) return undefined;
    this.#open = true;
    this.#openedAt = now;
    return 'open';
  }
}
