import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The `leasehold` entry point of this package, for spawning nodes. */
export const LEASEHOLD_BIN = fileURLToPath(new URL('../../bin/leasehold.js', import.meta.url));

export type NodeState = 'running' | 'stopped' | 'paused';

/**
 * One `leasehold serve` child process that can be killed, paused and restarted with the same arguments
 * (same port, same data directory): what the dev cluster and the fault tests do to nodes.
 */
export class NodeProcess {
  #child: ChildProcess | undefined;
  #state: NodeState = 'stopped';
  #output = '';

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly args: readonly string[],
    private readonly env: Readonly<Record<string, string>>,
    /** For the /healthz wait: a TLS node needs a fetch that trusts its CA (devtools' tlsFetch). */
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get state(): NodeState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last 64 KiB of the node's stdout and stderr. */
  output(): string {
    return this.#output;
  }

  /** Starts the process and waits until it answers /healthz (not /readyz: its store may be down). */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.#state !== 'stopped') return;
    const child = spawn(process.execPath, [LEASEHOLD_BIN, 'serve', ...this.args], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const append = (d: Buffer) => {
      this.#output = (this.#output + d.toString()).slice(-65_536);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.on('exit', () => {
      if (this.#child === child) this.#state = 'stopped';
    });
    this.#child = child;
    this.#state = 'running';
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#state !== 'running') break;
      const ok = await this.fetchImpl(`${this.url}/healthz`, { signal: AbortSignal.timeout(500) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.kill('SIGKILL');
    throw new Error(`node ${this.name} did not start within ${timeoutMs} ms:\n${this.#output.slice(-4000)}`);
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.#state = 'stopped';
      return;
    }
    const exited = once(child, 'exit');
    if (this.#state === 'paused') child.kill('SIGCONT');
    child.kill(signal);
    await exited;
    this.#state = 'stopped';
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }

  pause(): void {
    if (this.#state !== 'running') return;
    this.#child?.kill('SIGSTOP');
    this.#state = 'paused';
  }

  resume(): void {
    if (this.#state !== 'paused') return;
    this.#child?.kill('SIGCONT');
    this.#state = 'running';
  }
}
