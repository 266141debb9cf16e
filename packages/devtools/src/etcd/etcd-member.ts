import type { ChildProcess } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnEtcd } from './spawn-etcd.js';

/** `running` answers, `paused` is SIGSTOPped (alive, silent), `stopped` has no process. */
export type EtcdMemberState = 'running' | 'stopped' | 'paused';

/** How a member's last process ended. */
export interface EtcdMemberExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Static facts of a member, fixed for the cluster's lifetime. */
export interface MemberSpec {
  /** `etcd1`, `etcd2`, …: etcd's `--name`. */
  readonly name: string;
  /** Loopback address it binds, e.g. `127.0.0.1`. */
  readonly host: string;
  /** `http://host:port` for clients: gRPC and the JSON gateway. */
  readonly clientUrl: string;
  /** `http://host:port` for Raft traffic between members. */
  readonly peerUrl: string;
  /** etcd's `--data-dir`, kept across restarts. */
  readonly dataDir: string;
  /** Where its zap log (level warn) and stderr go. */
  readonly logFile: string;
}

/** One member of an {@link EtcdCluster}, a live view: `pid` and `state` follow its process. */
export interface EtcdMember extends MemberSpec {
  /** Raft member id (decimal string), as in `Maintenance.Status`'s `header.member_id`. */
  readonly memberId: string;
  /** Pid of its current process; `undefined` when stopped. */
  readonly pid: number | undefined;
  readonly state: EtcdMemberState;
  /** How its last process ended, if one did. */
  readonly lastExit: EtcdMemberExit | undefined;
}

/** A member and its process; the cluster's handle, exposed to callers only as {@link EtcdMember}. */
export class MemberProcess implements EtcdMember {
  readonly name: string;
  readonly host: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  memberId = '';
  lastExit: EtcdMemberExit | undefined;
  #state: EtcdMemberState = 'stopped';
  #child: ChildProcess | undefined;
  #exited: Promise<EtcdMemberExit> = Promise.resolve({ code: null, signal: null });
  // Where the current process's part of the log begins: the log file is appended across restarts.
  #logOffset = 0;

  constructor(spec: MemberSpec) {
    this.name = spec.name;
    this.host = spec.host;
    this.clientUrl = spec.clientUrl;
    this.peerUrl = spec.peerUrl;
    this.dataDir = spec.dataDir;
    this.logFile = spec.logFile;
  }

  get state(): EtcdMemberState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(bin: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
    if (this.#child) throw new TypeError(`etcd member ${this.name} is already ${this.#state}`);
    this.#logOffset = await stat(this.logFile).then(
      (s) => s.size,
      () => 0,
    );
    const child = await spawnEtcd({ bin, args, env, logFile: this.logFile });
    this.#child = child;
    this.#state = 'running';
    this.#exited = new Promise((resolve) => {
      const settle = (exit: EtcdMemberExit) => {
        if (this.#child === child) {
          this.#child = undefined;
          this.#state = 'stopped';
          this.lastExit = exit;
        }
        resolve(exit);
      };
      child.once('exit', (code, signal) => settle({ code, signal }));
      // Spawning itself failed (no such binary): no 'exit' follows.
      child.once('error', () => {
        if (child.pid === undefined) settle({ code: null, signal: null });
      });
    });
  }

  /** Sends `signal` to the process; false when there is none. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.#child) return false;
    const sent = this.#child.kill(signal);
    if (sent && signal === 'SIGSTOP') this.#state = 'paused';
    if (sent && signal === 'SIGCONT') this.#state = 'running';
    return sent;
  }

  /** Resolves true when the process has exited within `timeoutMs` (at once when there is none). */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.#child) return true;
    const timer = new AbortController();
    const exited = await Promise.race([
      this.#exited.then(() => true),
      sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    return exited;
  }

  /**
   * Ends the process: `signal`, then SIGKILL if it is still there after `graceMs`. A paused process is
   * continued after the signal so that it can act on it.
   */
  async terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!this.#child) return;
    const wasPaused = this.#state === 'paused';
    this.#child.kill(signal);
    if (wasPaused && signal !== 'SIGKILL') this.#child.kill('SIGCONT');
    if (await this.waitExit(graceMs)) return;
    this.#child?.kill('SIGKILL');
    if (!(await this.waitExit(10_000))) {
      throw new Error(`etcd member ${this.name} (pid ${this.pid}) did not exit after SIGKILL`);
    }
  }

  /**
   * What its current (or last) process logged, for error messages: all of it when short, else the first
   * lines (Go's flag errors come before the usage text) and the last ones (zap's fatal line ends it).
   */
  async logExcerpt(head = 5, tail = 15): Promise<string> {
    let text: string;
    try {
      const file = await open(this.logFile);
      try {
        const { size } = await file.stat();
        const length = Math.max(0, Math.min(256 * 1024, size - this.#logOffset));
        const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, size - length);
        text = buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await file.close();
      }
    } catch {
      return '(no log)';
    }
    const lines = text.trimEnd().split('\n');
    if (lines.length <= head + tail) return lines.join('\n');
    return [...lines.slice(0, head), `[… ${lines.length - head - tail} lines …]`, ...lines.slice(-tail)].join(
      '\n',
    );
  }
}
