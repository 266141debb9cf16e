import { LeaseholdError } from '@leasehold/domain';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { startNode } from '../node/leasehold-node.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run a node (embedded SQLite store, single node)')
    .option('-c, --config <file>', 'JSON config file (env LEASEHOLD_CONFIG)')
    .option('--host <host>', 'address to listen on (env LEASEHOLD_HOST; default 127.0.0.1)')
    .option('-p, --port <port>', 'port (env LEASEHOLD_PORT; default 7300)', (v) => Number(v))
    .option('-d, --data-dir <dir>', 'data directory (env LEASEHOLD_DATA_DIR; default ./data)')
    .option(
      '--vendor-key <file>',
      'trusted vendor public key, PEM or JWK; repeatable (env LEASEHOLD_VENDOR_KEYS)',
      collect,
    )
    .option('--license-key <file>', 'customer private key for encrypted licenses; repeatable', collect)
    .option('--store <store>', 'sqlite (embedded, one node) | etcd (HA cluster) (env LEASEHOLD_STORE)')
    .option(
      '--etcd-endpoints <urls>',
      'etcd client URLs, comma-separated (env LEASEHOLD_ETCD_ENDPOINTS)',
      (v) => v.split(',').map((s) => s.trim()),
    )
    .option('--advertise-url <url>', 'URL clients and peers use for this node (env LEASEHOLD_ADVERTISE_URL)')
    .option('--node-id <id>', 'stable node id (env LEASEHOLD_NODE_ID; default host:port)')
    .option('--tls-cert <file>', 'serve HTTPS only, with this certificate, PEM (env LEASEHOLD_TLS_CERT)')
    .option('--tls-key <file>', 'private key of --tls-cert, PEM (env LEASEHOLD_TLS_KEY)')
    .option('--tls-ca <file>', 'cluster CA: verifies client and peer certificates (env LEASEHOLD_TLS_CA)')
    .option('--tls-client-auth <mode>', 'none | optional | require (env LEASEHOLD_TLS_CLIENT_AUTH)')
    .option('--etcd-tls-ca <file>', 'CA of the etcd members (env LEASEHOLD_ETCD_TLS_CA)')
    .option('--etcd-tls-cert <file>', 'client certificate for etcd, PEM (env LEASEHOLD_ETCD_TLS_CERT)')
    .option('--etcd-tls-key <file>', 'private key of --etcd-tls-cert (env LEASEHOLD_ETCD_TLS_KEY)')
    .option(
      '--kek-file <file>',
      'key-encryption key, base64 of 32 bytes (env LEASEHOLD_KEK_FILE, LEASEHOLD_KEK)',
    )
    .option('--replica-of <url>', 'follow this primary as a read-only DR replica (env LEASEHOLD_REPLICA_OF)')
    .option(
      '--upstream-token <token>',
      'token for the primary: replica scope (replica), client/replica/admin (edge) (env LEASEHOLD_UPSTREAM_TOKEN)',
    )
    .option('--upstream-tls-ca <file>', "CA of the primary's certificate (env LEASEHOLD_UPSTREAM_TLS_CA)")
    .option(
      '--upstream-tls-cert <file>',
      'client certificate toward the primary (env LEASEHOLD_UPSTREAM_TLS_CERT)',
    )
    .option(
      '--upstream-tls-key <file>',
      'private key of --upstream-tls-cert (env LEASEHOLD_UPSTREAM_TLS_KEY)',
    )
    .option(
      '--edge-of <url>',
      'run as an edge site of this primary (env LEASEHOLD_EDGE_OF; docs/replication.md)',
    )
    .option(
      '--seat-block <LICENSE_ID:FEATURE=N>',
      'a block of N seats to hold from the primary; repeatable (env LEASEHOLD_SEAT_BLOCKS)',
      collect,
    )
    .option('--block-ttl <duration>', 'how long the primary holds a block, e.g. 4h (env LEASEHOLD_BLOCK_TTL)')
    .option(
      '--max-clock-skew-ms <ms>',
      'how far node clocks may disagree; expired seats return this much later (env LEASEHOLD_MAX_CLOCK_SKEW_MS; default 1000)',
      (v) => (/^\d+$/.test(v) ? Number(v) : v),
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LEASEHOLD_LOG_LEVEL)')
    .action(async (opts: Record<string, unknown>) => {
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig({
          file: (opts.config as string | undefined) ?? process.env.LEASEHOLD_CONFIG,
          env: process.env,
          flags: {
            host: opts.host,
            port: opts.port,
            dataDir: opts.dataDir,
            vendorKeys: opts.vendorKey,
            licenseDecryptionKeys: opts.licenseKey,
            logLevel: opts.logLevel,
            store: opts.store,
            etcdEndpoints: opts.etcdEndpoints,
            advertiseUrl: opts.advertiseUrl,
            nodeId: opts.nodeId,
            kekFile: opts.kekFile,
            tlsCert: opts.tlsCert,
            tlsKey: opts.tlsKey,
            tlsCa: opts.tlsCa,
            tlsClientAuth: opts.tlsClientAuth,
            etcdTlsCa: opts.etcdTlsCa,
            etcdTlsCert: opts.etcdTlsCert,
            etcdTlsKey: opts.etcdTlsKey,
            replicaOf: opts.replicaOf,
            upstreamToken: opts.upstreamToken,
            upstreamTlsCa: opts.upstreamTlsCa,
            upstreamTlsCert: opts.upstreamTlsCert,
            upstreamTlsKey: opts.upstreamTlsKey,
            edgeOf: opts.edgeOf,
            seatBlocks: opts.seatBlock,
            blockTtl: opts.blockTtl,
            maxClockSkewMs: opts.maxClockSkewMs,
          },
        });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`leasehold: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      // A test seam only (the rolling-upgrade test plays the previous release's store schema with it).
      const testSchema = process.env.LEASEHOLD_TEST_STORE_SCHEMA_VERSION;
      const node = await startNode(config, {
        ...(testSchema ? { storeSchemaVersion: Number(testSchema) } : {}),
      }).catch((err: unknown) => {
        // A certificate file that cannot be read is a configuration mistake, told as one.
        if (err instanceof ConfigError) {
          process.stderr.write(`leasehold: ${err.message}\n`);
          process.exit(2);
        }
        // A coded refusal (a newer store schema, a wrong KEK) is told by its code, not as a crash.
        if (err instanceof LeaseholdError) {
          process.stderr.write(`leasehold: ${err.code}: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      });
      process.stdout.write(`Leasehold node listening on ${node.url}\n`);
      node.ready.then(
        (admin) => {
          if (admin.created) {
            process.stdout.write(
              `\nAdmin token (shown once; also saved to ${admin.path}, mode 0600):\n  ${admin.created}\n\n`,
            );
          }
        },
        (err: unknown) => {
          node.app.log.error({ err }, 'start-up failed');
          if (err instanceof LeaseholdError) process.stderr.write(`leasehold: ${err.code}: ${err.message}\n`);
          process.exit(1);
        },
      );
      let closing = false;
      const shutdown = (signal: string) => {
        if (closing) return;
        closing = true;
        node.app.log.info({ signal }, 'shutting down');
        node.close().then(
          () => process.exit(0),
          (err: unknown) => {
            node.app.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
