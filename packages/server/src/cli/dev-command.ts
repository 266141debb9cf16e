import type { Command } from 'commander';
import { loadDevCluster } from './load-dev-cluster.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerDev(program: Command): void {
  const dev = program.command('dev').description('development helpers');
  dev
    .command('cluster')
    .description('run a local HA cluster: an etcd cluster and N nodes on loopback (Ctrl-C stops it)')
    .option('--nodes <n>', 'Leasehold nodes', (v) => Number(v), 3)
    .option('--etcd <n>', 'etcd members (1, 3 or 5)', (v) => Number(v), 3)
    .option('--base-port <port>', 'first node port; the others follow', (v) => Number(v), 7301)
    .option('-d, --data-dir <dir>', 'where etcd and node data go', './data/dev-cluster')
    .option('--vendor-key <file>', 'trusted vendor public key; repeatable', collect)
    .option('--fresh', 'start from empty data directories')
    .option('--tls', 'mutual TLS everywhere: a dev CA, etcd client+peer cert auth, HTTPS-only nodes')
    .action(
      async (opts: {
        nodes: number;
        etcd: number;
        basePort: number;
        dataDir: string;
        vendorKey?: string[];
        fresh?: boolean;
        tls?: boolean;
      }) => {
        if (![1, 3, 5].includes(opts.etcd)) throw new Error('--etcd must be 1, 3 or 5 (an odd quorum)');
        const DevCluster = await loadDevCluster();
        const cluster = await DevCluster.start({
          nodes: opts.nodes,
          etcdMembers: opts.etcd as 1 | 3 | 5,
          basePort: opts.basePort,
          dataDir: opts.dataDir,
          vendorKeys: opts.vendorKey ?? [],
          fresh: Boolean(opts.fresh),
          tls: Boolean(opts.tls),
          ...(process.env.LEASEHOLD_ADMIN_TOKEN ? { adminToken: process.env.LEASEHOLD_ADMIN_TOKEN } : {}),
        });
        const lines = [
          '',
          `etcd:  ${cluster.etcd.clientUrls().join(' ')}`,
          ...cluster.nodes.map((n) => `${n.name}: ${n.url}`),
          `admin token: ${cluster.adminToken}`,
          ...(cluster.tls
            ? [
                `CA:    ${cluster.tls.caFile}`,
                `client certificate (optional for API calls): ${cluster.tls.clientCertFile} ${cluster.tls.clientKeyFile}`,
                `curl:  curl --cacert ${cluster.tls.caFile} -H 'authorization: Bearer ${cluster.adminToken}' ${cluster.nodes[0]?.url}/v1/cluster`,
              ]
            : []),
          '',
          // The CLI's fetch trusts Node's CA list; NODE_EXTRA_CA_CERTS adds the dev CA to it.
          `try:  ${cluster.tls ? `NODE_EXTRA_CA_CERTS=${cluster.tls.caFile} ` : ''}LEASEHOLD_SERVER=${cluster.nodes[0]?.url} LEASEHOLD_TOKEN=${cluster.adminToken} npx leasehold status`,
          'Ctrl-C stops everything.',
          '',
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          process.stdout.write(`\n${signal}: stopping the cluster…\n`);
          cluster.stop().then(
            () => process.exit(0),
            (err: unknown) => {
              process.stderr.write(`leasehold: stop failed: ${String(err)}\n`);
              process.exit(1);
            },
          );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      },
    );
}
