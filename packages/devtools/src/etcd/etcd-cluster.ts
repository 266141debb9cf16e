import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CertificateFiles } from '@leasehold/pki';
import { DevtoolsError } from '../errors.js';
import { canAccess } from '../lib/can-access.js';
import { pollUntil } from '../lib/poll.js';
import { tlsFetch } from '../lib/tls-fetch.js';
import { type ClusterConfig, clusterConfig, type EtcdClusterOptions } from './cluster-options.js';
import { ClusterProbe, PROBE_TIMEOUT_MS } from './cluster-probe.js';
import { type ClusterTls, issueClusterTls } from './cluster-tls.js';
import { type EtcdMember, MemberProcess } from './etcd-member.js';
import { freePorts } from './free-ports.js';
import { readVersion } from './gateway.js';
import { locateEtcd } from './locate-etcd.js';
import { type ClusterFlags, memberArgs } from './member-args.js';
import { anyPortTaken, exitedError, portTaken } from './member-exit.js';

/** A member, by its handle or its name (`etcd1`, …). */
export type EtcdMemberRef = EtcdMember | string;

/** Signals {@link EtcdCluster.kill} sends. */
export type EtcdKillSignal = 'SIGKILL' | 'SIGTERM' | 'SIGINT';

// Another process can take a port between freePorts() and etcd's bind (see free-ports.ts).
const START_ATTEMPTS = 3;
// On restart the ports are fixed (they are the member's identity), so wait for them instead.
const RESTART_ATTEMPTS = 5;

/**
 * A cluster of real etcd processes on loopback, for tests and the developer cluster: start, health,
 * leader, and the faults a failover test needs (kill, restart, pause, resume). Children die with this
 * process; {@link EtcdCluster.stop} awaits their exit.
 *
 * @example
 * ```ts
 * const cluster = await EtcdCluster.start({ members: 3, dataDir: await mkdtemp(join(tmpdir(), 'etcd-')) });
 * try {
 *   const leader = await cluster.leader();
 *   await cluster.kill(leader);
 *   await cluster.leader(); // a new one, within about one election timeout
 *   await cluster.restart(leader);
 *   await cluster.waitHealthy(10_000);
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export class EtcdCluster {
  /** Members in start order; each is a live view of its process. */
  readonly members: readonly EtcdMember[];
  /** `--initial-cluster-token`, unique per cluster so that two clusters can never merge. */
  readonly token: string;
  /** The etcd binary the members run. */
  readonly bin: string;
  /**
   * With `tls`: the CA and the harness's client certificate (PEM files), which any etcd client of this
   * cluster may use too; `undefined` for a plaintext cluster.
   */
  readonly tls: CertificateFiles | undefined;
  readonly #config: ClusterConfig;
  readonly #processes: readonly MemberProcess[];
  readonly #flags: ClusterFlags;
  readonly #probe: ClusterProbe;
  #stopping: Promise<void> | undefined;

  private constructor(
    config: ClusterConfig,
    bin: string,
    processes: MemberProcess[],
    token: string,
    tls: ClusterTls | undefined,
  ) {
    this.#config = tls && !config.customFetch ? { ...config, fetch: tlsFetch(tls.clientPem) } : config;
    this.tls = tls?.client;
    this.#processes = processes;
    this.members = processes;
    this.bin = bin;
    this.token = token;
    this.#probe = new ClusterProbe(processes, this.#config.fetch);
    this.#flags = {
      initialCluster: processes.map((m) => `${m.name}=${m.peerUrl}`).join(','),
      token,
      heartbeatMs: config.heartbeatMs,
      electionMs: config.electionMs,
      autoCompactionMode: config.autoCompaction.mode,
      autoCompactionRetention: config.autoCompaction.retention,
      quotaBackendBytes: config.quotaBackendBytes,
      extraArgs: config.extraArgs,
      ...(tls ? { tls: tls.member } : {}),
    };
  }

  /**
   * Starts a new cluster (`--initial-cluster-state new`) on free loopback ports and resolves once every
   * member is healthy and they agree on a leader. Retries with new ports when one is taken meanwhile.
   * `dataDir` is created if needed; the members' directories in it must not exist yet.
   *
   * @example
   * ```ts
   * const cluster = await EtcdCluster.start({ members: 3, dataDir: '/tmp/lh-etcd', electionMs: 1000 });
   * console.log(cluster.clientUrls());
   * ```
   */
  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const config = clusterConfig(options);
    const bin = config.bin ?? (await locateEtcd({ env: process.env })).bin;
    const names = config.hosts.map((_, i) => `etcd${i + 1}`);
    await mkdir(config.dataDir, { recursive: true });
    for (const name of names) {
      if (await canAccess(join(config.dataDir, name))) {
        throw new TypeError(
          `EtcdCluster.start: ${join(config.dataDir, name)} already exists; use a fresh dataDir`,
        );
      }
    }

    const tls = config.tls
      ? await issueClusterTls(config.tls.caDir, config.dataDir, config.hosts)
      : undefined;
    const scheme = tls ? 'https' : 'http';
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts([...config.hosts, ...config.hosts]);
      const processes: MemberProcess[] = [];
      for (const [i, name] of names.entries()) {
        const host = config.hosts[i]!;
        const dir = join(config.dataDir, name);
        await mkdir(dir);
        processes.push(
          new MemberProcess({
            name,
            host,
            clientUrl: memberUrl(scheme, host, ports[i]!),
            peerUrl: memberUrl(scheme, host, ports[names.length + i]!),
            dataDir: join(dir, 'data'),
            logFile: join(dir, 'etcd.log'),
          }),
        );
      }
      const cluster = new EtcdCluster(config, bin, processes, `leasehold-${randomUUID()}`, tls);
      try {
        await cluster.#boot();
        return cluster;
      } catch (err) {
        await cluster.stop();
        if (attempt < START_ATTEMPTS && (await anyPortTaken(processes))) {
          await Promise.all(
            names.map((name) => rm(join(config.dataDir, name), { recursive: true, force: true })),
          );
          continue;
        }
        throw err;
      }
    }
  }

  async #boot(): Promise<void> {
    const env = this.#env();
    for (const m of this.#processes) await m.start(this.bin, memberArgs(m, this.#flags, 'new'), env);
    try {
      await this.#probe.waitHealthy(this.#config.startTimeoutMs, true);
    } catch (err) {
      if (!(err instanceof DevtoolsError) || err.code !== 'ETCD_TIMEOUT') throw err;
      const logs = await Promise.all(
        this.#processes.map(async (m) => `${m.logFile}:\n${await m.logExcerpt(0, 5)}`),
      );
      throw new DevtoolsError('ETCD_START_FAILED', `${err.message}\n${logs.join('\n')}`, { cause: err });
    }
  }

  /** The client URL of every member, running or not, in member order. */
  clientUrls(): string[] {
    return this.#processes.map((m) => m.clientUrl);
  }

  /** The member with this name (`etcd1`, …). */
  member(name: string): EtcdMember {
    return this.#resolve(name);
  }

  /**
   * Waits until every running member answers `GET /health` with `{"health":"true"}` and all of them follow
   * the same leader, itself a running member. Paused and stopped members are not asked. Resolves with the
   * leader; throws {@link DevtoolsError} `ETCD_TIMEOUT` after `timeoutMs`.
   *
   * @example
   * ```ts
   * await cluster.restart(member);
   * await cluster.waitHealthy(10_000);
   * ```
   */
  waitHealthy(timeoutMs = 10_000): Promise<EtcdMember> {
    return this.#probe.waitHealthy(timeoutMs, false);
  }

  /**
   * The member that is leader now: it says it leads, and a majority of all members says so too (so an
   * isolated ex-leader that has not stepped down yet does not count). Waits up to `timeoutMs` for one.
   *
   * @example
   * ```ts
   * const before = await cluster.leader();
   * await cluster.kill(before);
   * const after = await cluster.leader(3_000);
   * ```
   */
  leader(timeoutMs = 5_000): Promise<EtcdMember> {
    return this.#probe.leader(timeoutMs);
  }

  /**
   * The running members other than the current {@link EtcdCluster.leader}.
   *
   * @example
   * ```ts
   * const [follower] = await cluster.followers();
   * await cluster.pause(follower!);
   * ```
   */
  async followers(timeoutMs = 5_000): Promise<EtcdMember[]> {
    const leader = await this.leader(timeoutMs);
    return this.#processes.filter((m) => m !== leader && m.state === 'running');
  }

  /**
   * Sends `signal` (default SIGKILL) to a member and waits for its process to exit; after SIGTERM or SIGINT
   * it falls back to SIGKILL when the member is not gone within `graceMs`. A paused member is continued so
   * that it sees the signal. Does nothing when the member is stopped already.
   *
   * @example
   * ```ts
   * await cluster.kill(await cluster.leader());
   * await cluster.kill('etcd2', 'SIGTERM');
   * ```
   */
  async kill(member: EtcdMemberRef, signal: EtcdKillSignal = 'SIGKILL', graceMs = 10_000): Promise<void> {
    await this.#resolve(member).terminate(signal, graceMs);
  }

  /**
   * Starts a stopped member again on its own data dir and ports (`--initial-cluster-state existing`) and
   * waits, up to `timeoutMs`, until it serves HTTP. It rejoins by itself; `waitHealthy` tells when it has
   * caught up. `env` adds to the cluster's environment for this process only (e.g. libfaketime).
   *
   * @example
   * ```ts
   * await cluster.kill(member);
   * await cluster.restart(member);
   * await cluster.waitHealthy(10_000);
   * ```
   */
  async restart(
    member: EtcdMemberRef,
    options: {
      readonly timeoutMs?: number;
      readonly env?: Readonly<Record<string, string | undefined>>;
    } = {},
  ): Promise<void> {
    const m = this.#resolve(member);
    if (this.#stopping) throw new TypeError(`restart(${m.name}): the cluster was stopped`);
    if (m.state !== 'stopped')
      throw new TypeError(`restart(${m.name}): the member is ${m.state}; kill it first`);
    const timeoutMs = options.timeoutMs ?? 10_000;
    for (let attempt = 1; ; attempt++) {
      await m.start(this.bin, memberArgs(m, this.#flags, 'existing'), { ...this.#env(), ...options.env });
      try {
        await pollUntil(
          async (remainingMs) => {
            if (m.state === 'stopped') throw await exitedError(m);
            const timeout = Math.min(PROBE_TIMEOUT_MS, remainingMs);
            return readVersion(m.clientUrl, { timeoutMs: timeout, fetch: this.#config.fetch }).catch(
              () => undefined,
            );
          },
          {
            timeoutMs,
            code: 'ETCD_TIMEOUT',
            what: `restarted etcd member ${m.name} to serve ${m.clientUrl}`,
          },
        );
        return;
      } catch (err) {
        await m.terminate('SIGKILL', 0);
        if (attempt < RESTART_ATTEMPTS && (await portTaken(m))) {
          await sleep(200);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Freezes a running member with SIGSTOP: it keeps its sockets but answers nothing, like a long GC pause
   * or a hung VM.
   *
   * @example
   * ```ts
   * await cluster.pause('etcd3');
   * ```
   */
  async pause(member: EtcdMemberRef): Promise<void> {
    const m = this.#resolve(member);
    if (m.state !== 'running') throw new TypeError(`pause(${m.name}): the member is ${m.state}`);
    m.signal('SIGSTOP');
  }

  /**
   * Continues a paused member with SIGCONT.
   *
   * @example
   * ```ts
   * await cluster.resume('etcd3');
   * await cluster.waitHealthy(5_000);
   * ```
   */
  async resume(member: EtcdMemberRef): Promise<void> {
    const m = this.#resolve(member);
    if (m.state !== 'paused') throw new TypeError(`resume(${m.name}): the member is ${m.state}`);
    m.signal('SIGCONT');
  }

  /**
   * Stops every member: SIGTERM (paused ones are continued to see it), SIGKILL for any left after
   * `graceMs`, and waits for all to exit. Safe to call more than once; later calls share the first one's
   * outcome. Data dirs are left for the caller to remove.
   *
   * @example
   * ```ts
   * afterAll(() => cluster.stop());
   * ```
   */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopping ??= (async () => {
      // Followers first, then the leader. A leader that gets SIGTERM hands leadership to a connected peer
      // and waits for that up to the request timeout (5 s + 2 x election); when the peers are stopping at
      // the same moment it waits it out. Measured on 3.5.16, 3 members: all at once 6.0 s; followers
      // first 1.0 s (a follower takes ~1 s to stop), and the lone leader then stops in ~10 ms.
      const leaders = await this.#probe.selfClaimedLeaders();
      await Promise.all(
        this.#processes.filter((m) => !leaders.has(m)).map((m) => m.terminate('SIGTERM', graceMs)),
      );
      await Promise.all(this.#processes.map((m) => m.terminate('SIGTERM', graceMs)));
    })();
    return this.#stopping;
  }

  /** The members' environment: ours without `ETCD_*`, which etcd reads as flags, plus the caller's. */
  #env(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD_')),
    );
    return { ...inherited, ...this.#config.env };
  }

  #resolve(ref: EtcdMemberRef): MemberProcess {
    const found = this.#processes.find((m) => m === ref || m.name === ref);
    if (!found) {
      const name = typeof ref === 'string' ? ref : ref.name;
      throw new TypeError(
        `no member ${name} in this cluster (${this.#processes.map((m) => m.name).join(', ')})`,
      );
    }
    return found;
  }
}

function memberUrl(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
