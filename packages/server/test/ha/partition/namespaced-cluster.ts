import { chmodSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type EtcdCluster, locateEtcd } from '@leasehold/devtools';
import { generateApiToken } from '@leasehold/server/internal';
import { assertRunnable, mountCheckout, whyUnreachable } from './checkout-mount.js';
import {
  assertPrivateNamespace,
  ETCD_HOSTS,
  heal,
  NODE_HOSTS,
  overlayPasswd,
  privateMounts,
  run,
  setUpNetwork,
  uidOf,
} from './namespace.js';
import { type LicenseSpec, makeLicense, type NamespacedNode, startEtcd, startNodes } from './processes.js';
import { call, isOk } from './traffic.js';

/**
 * A 3-member etcd cluster and 3 Leasehold nodes inside this process's private network and mount namespace
 * (namespace.ts), every process under the uid of its own address, with a license installed: what the
 * partition scenario (main.ts) and the soak (../soak/main.ts) run against. Refuses to run outside a
 * private namespace. On failure it prints the processes' log tails, stops what it started and throws.
 */
export interface NamespacedCluster {
  readonly etcd: EtcdCluster;
  readonly nodes: readonly NamespacedNode[];
  readonly token: string;
  /** Heals every cut, stops the nodes (SIGTERM, bounded) and etcd. */
  stop(): Promise<void>;
  /** Prints the nodes' output and the members' log tails (after a failure). */
  dumpLogs(): void;
}

export interface NamespacedClusterOptions {
  /** An empty directory: data, logs and the mounted checkout go here. */
  readonly workDir: string;
  /** The repository root whose built code the nodes run. */
  readonly repoRoot: string;
  readonly log: (message: string) => void;
  /** The license to install (default: the partition scenario's). */
  readonly license?: LicenseSpec;
  /** Extra environment for every node, and for single nodes by name. */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  readonly nodeEnvByName?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** A library every node preloads (processes.ts, startNodes); /dev/shm then becomes this namespace's own. */
  readonly nodePreload?: string;
}

export async function startNamespacedCluster(o: NamespacedClusterOptions): Promise<NamespacedCluster> {
  const { log } = o;
  assertPrivateNamespace();
  chmodSync(o.workDir, 0o755); // the members' and nodes' uids must reach their dirs
  process.chdir(o.workDir); // children inherit it, and the checkout they were started in may be closed to them
  privateMounts();
  overlayPasswd(o.workDir);
  // libfaketime keeps a semaphore and a segment in /dev/shm per process, which a SIGKILLed node leaves
  // behind: a tmpfs of this mount namespace's own goes with it.
  if (o.nodePreload) run('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=1777', 'tmpfs', '/dev/shm']);
  const workDirProblem = whyUnreachable(join(o.workDir, 'passwd'), 'read');
  if (workDirProblem) throw new Error(`the uids cannot reach ${o.workDir}: ${workDirProblem}`);
  const { bin: etcdBin, version } = await locateEtcd({ onWarning: log });
  log(`etcd ${version} at ${etcdBin}`);
  const checkout = mountCheckout({
    repoRoot: o.repoRoot,
    workDir: o.workDir,
    nodeBin: process.execPath,
    etcdBin,
  });
  const leasehold = [checkout.node, checkout.inside(leaseholdBin(o.repoRoot))];
  assertRunnable(
    uidOf(NODE_HOSTS[0]),
    'the leasehold CLI',
    [...leasehold, '--version'],
    [
      { path: checkout.node, need: 'run' },
      { path: leasehold[1] ?? '', need: 'read' },
    ],
  );
  assertRunnable(
    uidOf(ETCD_HOSTS[0]),
    'etcd',
    [checkout.etcd, '--version'],
    [{ path: checkout.etcd, need: 'run' }],
  );
  setUpNetwork();
  const token = generateApiToken('admin');
  let etcd: EtcdCluster | undefined;
  let nodes: NamespacedNode[] = [];
  const stop = async () => {
    try {
      heal();
    } catch {
      // No table (set-up failed early): nothing to heal.
    }
    await Promise.all(nodes.map((n) => n.stop()));
    await etcd?.stop();
  };
  const dumpLogs = () => {
    for (const n of nodes) log(`${n.name} output (tail):\n${n.output().slice(-2000)}`);
    for (const m of etcd?.members ?? []) {
      let tail: string;
      try {
        tail = readFileSync(m.logFile, 'utf8').slice(-1500);
      } catch {
        tail = '(no log)';
      }
      log(`${m.name} log (tail):\n${tail}`);
    }
  };
  try {
    etcd = await startEtcd(o.workDir, checkout);
    log(`etcd up: ${etcd.clientUrls().join(' ')}`);
    const { vendorKeyFile, license } = await makeLicense(o.workDir, o.license);
    nodes = await startNodes({
      workDir: o.workDir,
      etcd,
      vendorKeyFile,
      adminToken: token,
      leasehold,
      ...(o.nodeEnv ? { env: o.nodeEnv } : {}),
      ...(o.nodeEnvByName ? { envByName: o.nodeEnvByName } : {}),
      ...(o.nodePreload ? { preload: o.nodePreload } : {}),
    });
    log(`nodes up: ${nodes.map((n) => n.url).join(' ')}`);
    const installed = await call(token, 'POST', `${nodes[0]?.url}/v1/licenses`, { license });
    if (!isOk(installed))
      throw new Error(`license install answered ${installed.status} ${JSON.stringify(installed.body)}`);
  } catch (err) {
    dumpLogs();
    await stop();
    throw err;
  }
  return { etcd, nodes, token, stop, dumpLogs };
}

/** The repository root, from a file's place in it (compiled or not: both sit 4-6 levels below). */
export function findRepoRoot(start: string): string {
  for (let dir = start, i = 0; i < 10; dir = resolve(dir, '..'), i++) {
    try {
      if (
        (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name ===
        'leasehold'
      )
        return dir;
    } catch {
      // Not here; go up.
    }
  }
  throw new Error(`no package.json named leasehold above ${start}`);
}

/** The `leasehold` executable script, as the server package declares it. */
function leaseholdBin(repoRoot: string): string {
  const server = join(repoRoot, 'packages', 'server');
  const pkg = JSON.parse(readFileSync(join(server, 'package.json'), 'utf8')) as {
    bin: { leasehold: string };
  };
  return join(server, pkg.bin.leasehold);
}
