import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdCluster } from '@leasehold/devtools';
import { generateKeyPairPems, importPrivateKey, issueLicense } from '@leasehold/domain';
import { now } from '../history.js';
import type { MountedCheckout } from './checkout-mount.js';
import { ETCD_HOSTS, NODE_HOSTS, NODE_PORT, uidOf } from './namespace.js';
import { FEATURE, LICENSE_ID, SEATS } from './result.js';
import { LEASE_TTL_S } from './traffic.js';

/**
 * The scenario's processes: etcd members and Leasehold nodes, each under the uid of its address
 * (namespace.ts) with a parent-death signal, started through the mounted checkout (checkout-mount.ts).
 */

/** `bin` for EtcdCluster: runs each member as the uid of its address, with a parent-death signal again
 * (changing uid clears the one the harness set). */
function writeEtcdWrapper(workDir: string, etcd: string): string {
  const cases = ETCD_HOSTS.map((host, i) => `  *" --name=etcd${i + 1} "*) uid=${uidOf(host)} ;;`).join('\n');
  const path = join(workDir, 'etcd-as-member.sh');
  writeFileSync(
    path,
    `#!/bin/sh
# Written by the partition scenario: one uid per etcd member, so policy routing gives it its own address.
case " $* " in
${cases}
  *) echo "etcd-as-member: no known --name in: $*" >&2; exit 2 ;;
esac
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --pdeathsig KILL -- '${etcd}' "$@"
`,
    { mode: 0o755 },
  );
  return path;
}

export async function startEtcd(workDir: string, checkout: MountedCheckout): Promise<EtcdCluster> {
  const wrapper = writeEtcdWrapper(workDir, checkout.etcd);
  // Members write their data under dirs the harness makes as root; umask 0 lets their own uids in.
  const mask = process.umask(0);
  try {
    return await EtcdCluster.start({
      members: 3,
      dataDir: join(workDir, 'etcd'),
      hosts: ETCD_HOSTS,
      bin: wrapper,
    });
  } finally {
    process.umask(mask);
  }
}

/**
 * A `leasehold serve` child under its own uid (the harness's NodeProcess cannot change the uid or set a
 * parent-death signal, which this namespace needs). It can be killed, paused and restarted with the same
 * arguments, like NodeProcess, so the nemesis (../nemesis.ts) can hit it.
 */
export class NamespacedNode {
  readonly url: string;
  readonly uid: number;
  exited = false;
  #child: ChildProcess | undefined;
  #paused = false;
  #output = '';

  constructor(
    readonly name: string,
    readonly host: string,
    private readonly command: readonly string[],
    private readonly env: Readonly<Record<string, string>>,
  ) {
    this.url = `http://${host}:${NODE_PORT}`;
    this.uid = uidOf(host);
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): 'running' | 'stopped' | 'paused' {
    if (!this.#child || this.exited) return 'stopped';
    return this.#paused ? 'paused' : 'running';
  }

  output(): string {
    return this.#output;
  }

  /** Starts the process (a no-op while one runs) and waits until /healthz answers. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.state !== 'stopped') return;
    const uid = String(this.uid);
    const child = spawn(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--pdeathsig', 'KILL', '--', ...this.command],
      { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const append = (d: Buffer) => {
      this.#output = (this.#output + d.toString()).slice(-65_536);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = false;
    this.#paused = false;
    child.once('exit', () => {
      if (this.#child === child) this.exited = true;
    });
    this.#child = child;
    const deadline = now() + timeoutMs;
    for (let i = 0; i < 1000 && now() < deadline && !this.exited; i++) {
      const ok = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(500) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(50);
    }
    await this.stop(0);
    throw new Error(`node ${this.name} did not start within ${timeoutMs} ms:\n${this.#output.slice(-4000)}`);
  }

  /** SIGKILL (or SIGTERM with no grace limit), continuing a paused node first; waits for the exit. */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || this.exited) return;
    const exited = once(child, 'exit');
    if (this.#paused) child.kill('SIGCONT');
    child.kill(signal);
    await exited;
    this.#paused = false;
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.#child?.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.#child?.kill('SIGCONT');
    this.#paused = false;
  }

  async stop(graceMs = 5000): Promise<void> {
    const child = this.#child;
    if (!child || this.exited) return;
    const exited = once(child, 'exit');
    if (this.#paused) child.kill('SIGCONT');
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = new AbortController();
    const done = await Promise.race([
      exited.then(() => true),
      sleep(graceMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
    this.#paused = false;
  }
}

export async function startNodes(o: {
  readonly workDir: string;
  readonly etcd: EtcdCluster;
  readonly vendorKeyFile: string;
  readonly adminToken: string;
  /** The command that runs `leasehold`, as the uids see it: [node, bin]. */
  readonly leasehold: readonly string[];
  /** Extra environment for every node (after the scenario's own). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra environment for single nodes by name (`node-2`): e.g. libfaketime's control file. */
  readonly envByName?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * A library to preload into every node (libfaketime), set by `env` *after* setpriv changed the uid: in
   * setpriv itself it would run as root, and libfaketime's shared semaphore, made by root, is closed to
   * the node's uid ("sem_open failed: Permission denied").
   */
  readonly preload?: string;
}): Promise<NamespacedNode[]> {
  const nodes = NODE_HOSTS.map((host, i) => {
    const name = `node-${i + 1}`;
    const dataDir = join(o.workDir, name);
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, uidOf(host), uidOf(host));
    return new NamespacedNode(
      name,
      host,
      [
        ...(o.preload ? ['env', `LD_PRELOAD=${o.preload}`] : []),
        ...o.leasehold,
        'serve',
        '--store',
        'etcd',
        '--etcd-endpoints',
        o.etcd.clientUrls().join(','),
        '--host',
        host,
        '--port',
        String(NODE_PORT),
        '--data-dir',
        dataDir,
        '--node-id',
        name,
        '--vendor-key',
        o.vendorKeyFile,
        '--log-level',
        'warn',
      ],
      // Every node of an etcd cluster shares one key-encryption key (docs/security.md).
      {
        LEASEHOLD_ADMIN_TOKEN: o.adminToken,
        LEASEHOLD_KEK: Buffer.alloc(32, 1).toString('base64'),
        ...o.env,
        ...o.envByName?.[name],
      },
    );
  });
  // One at a time: the first creates the cluster signing key, the others find it (as DevCluster does).
  for (const node of nodes) await node.start();
  return nodes;
}

/** What the license grants: the partition scenario's one pool by default (result.ts). */
export interface LicenseSpec {
  readonly lid: string;
  readonly features: Readonly<Record<string, { readonly seats: number }>>;
  readonly ttlSeconds: number;
}

const PARTITION_LICENSE: LicenseSpec = {
  lid: LICENSE_ID,
  features: { [FEATURE]: { seats: SEATS } },
  ttlSeconds: LEASE_TTL_S,
};

/** A vendor key (its public half in `<workDir>/vendor.pub.pem`, for the nodes) and a license it signed. */
export async function makeLicense(
  workDir: string,
  spec: LicenseSpec = PARTITION_LICENSE,
): Promise<{ vendorKeyFile: string; license: string }> {
  const pems = await generateKeyPairPems('sig');
  const key = await importPrivateKey(pems.privatePem);
  const vendorKeyFile = join(workDir, 'vendor.pub.pem');
  writeFileSync(vendorKeyFile, pems.publicPem, { mode: 0o644 });
  const nowS = Math.floor(Date.now() / 1000);
  const license = await issueLicense(
    {
      lid: spec.lid,
      ver: 1,
      customer: 'Acme',
      product: 'cad',
      features: spec.features,
      iat: nowS - 60,
      nbf: nowS - 60,
      exp: nowS + 86_400,
      lease: { ttl: spec.ttlSeconds, grace: 0, policy: 'strict' },
    },
    key,
  );
  return { vendorKeyFile, license };
}
