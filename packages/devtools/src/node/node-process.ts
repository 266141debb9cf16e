import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { DevtoolsError } from '../errors.js';
import { pollUntil } from '../lib/poll.js';
import { leaseholdBin } from './leasehold-bin.js';

export type NodeState = 'running' | 'stopped' | 'paused';

/** Which probe says a node is up: `/healthz` (the process serves) or `/readyz` (its store answers too). */
export type NodeReadiness = 'healthz' | 'readyz';

export interface NodeProcessOptions {
  /** For messages and the dev cluster's listing, e.g. `node-2`. */
  readonly name?: string;
  /** Arguments after `leasehold serve`. */
  readonly args: readonly string[];
  /** Extra environment (LEASEHOLD_* settings) over this process's. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The node's base URL when the caller chose its port; without it the URL is read from the node's
   * `listening on …` line (for `--port 0`).
   */
  readonly url?: string;
  /** Default `healthz`: a node whose store is down still counts as started. */
  readonly readiness?: NodeReadiness;
  /** The fetch of the readiness probe: a TLS node needs one that trusts its CA (`tlsFetch`). */
  readonly fetch?: typeof fetch;
  /** How long `start()` waits for readiness; default 20 s. */
  readonly startTimeoutMs?: number;
}

const OUTPUT_LIMIT = 65_536;

/**
 * One `leasehold serve` child process that can be killed, paused and restarted with the same arguments
 * (same port, same data directory): the one node handle of the tests, benches and dev cluster.
 */
export class NodeProcess {
  readonly name: string;
  #url: string | undefined;
  #child: ChildProcess | undefined;
  #state: NodeState = 'stopped';
  #output = '';

  constructor(readonly options: NodeProcessOptions) {
    this.name = options.name ?? 'node';
    this.#url = options.url;
  }

  /** The base URL (known once `start()` resolved when the port was left to the OS). */
  get url(): string {
    if (this.#url === undefined) throw new TypeError(`${this.name}: the URL is known once the node started`);
    return this.#url;
  }

  get state(): NodeState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The running child process, if any (e.g. to read its listening sockets from /proc). */
  get child(): ChildProcess | undefined {
    return this.#child;
  }

  /** The last 64 KiB of the node's stdout and stderr. */
  output(): string {
    return this.#output;
  }

  /**
   * Starts the process and waits (`timeoutMs`, default the options' `startTimeoutMs`, else 20 s) until its
   * readiness probe answers 2xx; kills it and throws `NODE_START_FAILED` if not.
   */
  async start(timeoutMs = this.options.startTimeoutMs ?? 20_000): Promise<void> {
    if (this.#state !== 'stopped') return;
    const child = spawn(process.execPath, [leaseholdBin(), 'serve', ...this.options.args], {
      env: { ...process.env, NODE_OPTIONS: nodeOptions(process.env.NODE_OPTIONS), ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A node on port 0 gets a new port each start: its URL comes from this run's own output.
    if (this.options.url === undefined) this.#url = undefined;
    let head = '';
    const append = (d: Buffer) => {
      this.#output = (this.#output + d.toString()).slice(-OUTPUT_LIMIT);
      if (head.length < 8192) head += d.toString();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.on('exit', () => {
      if (this.#child === child) this.#state = 'stopped';
    });
    this.#child = child;
    this.#state = 'running';
    const probe = this.options.fetch ?? fetch;
    try {
      await pollUntil(
        async (remainingMs, note) => {
          if (this.#state === 'stopped') throw new Error(`${this.name} exited (code ${child.exitCode})`);
          this.#url ??= /listening on (https?:\/\/\S+)/.exec(head)?.[1];
          if (this.#url === undefined) return note('no `listening on` line yet');
          const path = `${this.#url}/${this.options.readiness ?? 'healthz'}`;
          const status = await probe(path, { signal: AbortSignal.timeout(Math.min(1000, remainingMs)) }).then(
            (r) => r.status,
            (err: unknown) => String(err),
          );
          note(`${path}: ${status}`);
          return typeof status === 'number' && status >= 200 && status < 300;
        },
        { timeoutMs, intervalMs: 50, what: `${this.name} to answer` },
      );
    } catch (err) {
      await this.kill('SIGKILL');
      throw new DevtoolsError(
        'NODE_START_FAILED',
        `${this.name} did not start: ${(err as Error).message}\n${this.#output.slice(-4000)}`,
        { cause: err },
      );
    }
  }

  /** Sends `signal` (a paused node is continued first, so it can act on it) and waits for the exit. */
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

/**
 * The V8 settings a node runs with in production (the Dockerfile's and the systemd unit's NODE_OPTIONS,
 * docs/deploy.md), so that nodes started here — the dev cluster, the benchmarks — measure the same:
 * - a young generation of 2 MB semi-spaces instead of 16 MB cut the idle RSS by ~20 MB;
 * - a 1 GB old-generation limit keeps V8's heap growing factor at 1.6 instead of 4 (which it uses whenever
 *   the limit is 2 GB or more, i.e. on any host over ~8 GB): node RSS under the 100,000-lease renewal
 *   load 181 MB instead of 313 MB (bench/README.md, docs/ha.md "Node memory under load").
 * A flag already in the inherited NODE_OPTIONS wins over ours.
 */
const NODE_V8_OPTIONS = ['--max-semi-space-size=2', '--max-old-space-size=1024'];

function nodeOptions(inherited: string | undefined): string {
  const missing = NODE_V8_OPTIONS.filter((flag) => !inherited?.includes(flag.slice(0, flag.indexOf('='))));
  return [inherited, ...missing].filter((part) => part !== undefined && part !== '').join(' ');
}
