import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CertificateFiles, initCertificateAuthority, issueCertificateFiles } from '@leasehold/pki';
import type { EtcdClusterOptions } from '../etcd/cluster-options.js';
import { EtcdCluster } from '../etcd/etcd-cluster.js';
import { tlsFetch } from '../lib/tls-fetch.js';
import { NodeProcess } from '../node/node-process.js';
import { nodePorts } from './node-ports.js';

export interface DevClusterOptions {
  readonly nodes: number;
  readonly etcdMembers: 1 | 3 | 5;
  /** Everything goes under this directory: etcd data, node data, logs. */
  readonly dataDir: string;
  /** First node port; the others follow (0: any free ports). */
  readonly basePort?: number;
  readonly host?: string;
  readonly vendorKeys?: readonly string[];
  readonly adminToken?: string;
  /** Extra environment for every node (LEASEHOLD_* settings). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** etcd raft timing; see docs/ha.md for the defaults' reasons. */
  readonly etcdHeartbeatMs?: number;
  readonly etcdElectionMs?: number;
  /**
   * etcd storage settings for every member (default: 256 MiB quota, hourly compaction, no extra flags).
   * The scale bench (bench/scale-etcd.mjs) holds 100,000 leases, more than the default quota, compacts as
   * often as a production cluster would and tries compaction's pacing flags (`extraArgs`).
   */
  readonly etcdStorage?: Pick<EtcdClusterOptions, 'autoCompaction' | 'quotaBackendBytes' | 'extraArgs'>;
  /** Start from empty directories. */
  readonly fresh?: boolean;
  /** Extra environment for single nodes by name (`node-2`), after `nodeEnv`: e.g. libfaketime for one. */
  readonly nodeEnvByName?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * Mutual TLS everywhere: a development CA in `<dataDir>/tls/`, etcd with client and peer certificate
   * auth, nodes serving HTTPS only and calling etcd and each other with their node certificates.
   */
  readonly tls?: boolean;
}

/** The dev cluster's PKI: what a client needs to call its nodes over TLS. */
export interface DevClusterTls {
  /** The CA certificate every node and etcd member chains to. */
  readonly caFile: string;
  /** A client certificate (`kind client`) for tools that want mutual TLS, e.g. curl. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

/**
 * A local Leasehold cluster of real processes: an etcd cluster and N nodes on loopback, all with the
 * same configuration and admin token. Used by `leasehold dev cluster` (which loads this package lazily),
 * the HA tests, which kill, pause and restart its members, and the benches. The nodes run the installed
 * `@leasehold/server`'s bin (`leaseholdBin()`).
 */
export class DevCluster {
  private constructor(
    readonly etcd: EtcdCluster,
    readonly nodes: readonly NodeProcess[],
    readonly adminToken: string,
    readonly tls: DevClusterTls | undefined,
  ) {}

  static async start(options: DevClusterOptions): Promise<DevCluster> {
    const dataDir = resolve(options.dataDir);
    if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    const host = options.host ?? '127.0.0.1';
    const pki = options.tls ? await makeDevPki(join(dataDir, 'tls'), host, options.nodes) : undefined;
    const etcd = await EtcdCluster.start({
      ...(pki ? { tls: { caDir: pki.caDir } } : {}),
      members: options.etcdMembers,
      dataDir: join(dataDir, 'etcd'),
      ...(options.etcdHeartbeatMs ? { heartbeatMs: options.etcdHeartbeatMs } : {}),
      ...(options.etcdElectionMs ? { electionMs: options.etcdElectionMs } : {}),
      ...options.etcdStorage,
    });
    try {
      await etcd.waitHealthy(20_000);
      // The server's admin token format (tokens/api-token.ts): scope prefix, 256 random bits.
      const adminToken = options.adminToken ?? `lh_admin_${randomBytes(32).toString('base64url')}`;
      // One key-encryption key for every node (an etcd cluster needs a shared one), kept with the dev
      // cluster's data so a restart finds it; a real deployment keeps it elsewhere (docs/security.md).
      const kekFile = join(dataDir, 'kek');
      if (!existsSync(kekFile))
        writeFileSync(kekFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      const ports = await nodePorts(options.nodes, options.basePort ?? 0, host);
      const nodes = ports.map((port, i) => {
        const name = `node-${i + 1}`;
        const args = [
          '--store',
          'etcd',
          '--etcd-endpoints',
          etcd.clientUrls().join(','),
          '--host',
          host,
          '--port',
          String(port),
          '--data-dir',
          join(dataDir, name),
          '--node-id',
          name,
          '--kek-file',
          kekFile,
          ...(options.vendorKeys ?? []).flatMap((k) => ['--vendor-key', resolve(k)]),
          ...(pki ? nodeTlsArgs(pki.nodes[i]!) : []),
        ];
        return new NodeProcess({
          name,
          url: `${pki ? 'https' : 'http'}://${host}:${port}`,
          args,
          env: {
            LEASEHOLD_ADMIN_TOKEN: adminToken,
            LEASEHOLD_LOG_LEVEL: 'warn',
            ...options.nodeEnv,
            ...options.nodeEnvByName?.[name],
          },
          ...(pki ? { fetch: pki.fetch } : {}),
        });
      });
      const cluster = new DevCluster(etcd, nodes, adminToken, pki?.summary);
      try {
        // One at a time: the first creates the cluster signing key, the rest find it.
        for (const node of nodes) await node.start();
      } catch (err) {
        await cluster.stop();
        throw err;
      }
      return cluster;
    } catch (err) {
      await etcd.stop();
      throw err;
    }
  }

  urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGTERM')));
    await this.etcd.stop();
  }
}

interface DevPki {
  readonly caDir: string;
  readonly nodes: readonly CertificateFiles[];
  readonly summary: DevClusterTls;
  /** Trusts the CA and presents the client certificate: for health checks of TLS nodes. */
  readonly fetch: typeof fetch;
}

/**
 * The development CA and the certificates the cluster needs, in `dir`: one `peer` certificate per node
 * (its HTTPS server, its calls to peers, and its etcd client certificate) and one client certificate.
 */
async function makeDevPki(dir: string, host: string, nodes: number): Promise<DevPki> {
  const caDir = join(dir, 'ca');
  await initCertificateAuthority(caDir, { commonName: 'Leasehold dev cluster CA' });
  const sans = [...new Set([host, '127.0.0.1', 'localhost'])];
  const nodeFiles: CertificateFiles[] = [];
  for (let i = 1; i <= nodes; i++) {
    nodeFiles.push(await issueCertificateFiles(caDir, dir, { name: `node-${i}`, sans, kind: 'peer' }));
  }
  const client = await issueCertificateFiles(caDir, dir, { name: 'dev-client', kind: 'client' });
  const [ca, cert, key] = [client.ca, client.cert, client.key].map((f) => readFileSync(f, 'utf8'));
  return {
    caDir,
    nodes: nodeFiles,
    summary: { caFile: client.ca, clientCertFile: client.cert, clientKeyFile: client.key },
    fetch: tlsFetch({ ca: ca!, cert: cert!, key: key! }),
  };
}

function nodeTlsArgs(files: CertificateFiles): string[] {
  return [
    '--tls-cert',
    files.cert,
    '--tls-key',
    files.key,
    '--tls-ca',
    files.ca,
    '--etcd-tls-ca',
    files.ca,
    '--etcd-tls-cert',
    files.cert,
    '--etcd-tls-key',
    files.key,
  ];
}
