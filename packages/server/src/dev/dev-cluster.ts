import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EtcdCluster } from '@leasehold/devtools';
import { generateApiToken } from '../tokens/api-token.js';
import { NodeProcess } from './node-process.js';

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
  /** Start from empty directories. */
  readonly fresh?: boolean;
}

/**
 * A local Leasehold cluster of real processes: an etcd cluster and N nodes on loopback, all with the
 * same configuration and admin token. Used by `leasehold dev cluster` and by the HA tests, which kill,
 * pause and restart its members.
 */
export class DevCluster {
  private constructor(
    readonly etcd: EtcdCluster,
    readonly nodes: readonly NodeProcess[],
    readonly adminToken: string,
  ) {}

  static async start(options: DevClusterOptions): Promise<DevCluster> {
    const dataDir = resolve(options.dataDir);
    if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    const etcd = await EtcdCluster.start({
      members: options.etcdMembers,
      dataDir: join(dataDir, 'etcd'),
      ...(options.etcdHeartbeatMs ? { heartbeatMs: options.etcdHeartbeatMs } : {}),
      ...(options.etcdElectionMs ? { electionMs: options.etcdElectionMs } : {}),
    });
    try {
      await etcd.waitHealthy(20_000);
      const adminToken = options.adminToken ?? generateApiToken('admin');
      const host = options.host ?? '127.0.0.1';
      const ports = await freePorts(options.nodes, options.basePort ?? 0, host);
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
          ...(options.vendorKeys ?? []).flatMap((k) => ['--vendor-key', resolve(k)]),
        ];
        return new NodeProcess(name, `http://${host}:${port}`, args, {
          LEASEHOLD_ADMIN_TOKEN: adminToken,
          LEASEHOLD_LOG_LEVEL: 'warn',
          ...options.nodeEnv,
        });
      });
      const cluster = new DevCluster(etcd, nodes, adminToken);
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

async function freePorts(count: number, base: number, host: string): Promise<number[]> {
  const { createServer } = await import('node:net');
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const wanted = base === 0 ? 0 : base + i;
    ports.push(
      await new Promise<number>((resolvePort, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(wanted, host, () => {
          const address = server.address();
          server.close(() => resolvePort(typeof address === 'object' && address ? address.port : wanted));
        });
      }),
    );
  }
  return ports;
}
