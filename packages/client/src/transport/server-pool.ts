/**
 * The nodes a client talks to and which one to try first. This version prefers the last node that
 * answered and moves on when it fails; the starting node is random so that many clients spread over the
 * cluster. Health- and latency-aware choice (circuit breakers, EWMA) replaces this class later without
 * changing its callers.
 */
export class ServerPool {
  readonly servers: readonly string[];
  #preferred: number;

  constructor(servers: readonly string[], random: () => number) {
    if (servers.length === 0) throw new TypeError('at least one server is required');
    this.servers = Object.freeze([...servers]);
    this.#preferred = Math.min(Math.floor(random() * servers.length), servers.length - 1);
  }

  /** Every server once, in the order to try them: the preferred one, then those after it in the list. */
  order(): string[] {
    const n = this.servers.length;
    return Array.from({ length: n }, (_, i) => this.servers[(this.#preferred + i) % n] as string);
  }

  /** The node gave a definite answer (a result or a non-retryable error): keep using it. */
  markGood(server: string): void {
    const index = this.servers.indexOf(server);
    if (index >= 0) this.#preferred = index;
  }

  /** The node failed with a retryable error: if it was the preferred one, prefer the next. */
  markBad(server: string): void {
    const index = this.servers.indexOf(server);
    if (index >= 0 && index === this.#preferred) this.#preferred = (index + 1) % this.servers.length;
  }
}
