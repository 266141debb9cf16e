import { join, resolve } from 'node:path';
import { EtcdStore, kekFingerprint, type LeaseStore, SqliteStore } from '@leasehold/store';
import type { Command } from 'commander';
import { KEK_FILE, readKekFile } from '../keys/key-encryption-key.js';
import { DATABASE_FILE } from '../node/leasehold-node.js';
import { loadEtcdCredentials } from '../tls/node-tls.js';

/** Rotation rewraps the data key and reads no license: the store it opens trusts no vendor key. */
const NO_LICENSE_KEYS = { vendorKeys: new Map() } as const;

interface RotateOptions {
  old?: string;
  new: string;
  dataDir: string;
  etcdEndpoints?: string[];
  etcdPrefix: string;
  etcdTlsCa?: string;
  etcdTlsCert?: string;
  etcdTlsKey?: string;
}

/**
 * `leasehold kek rotate`: wraps the store's data key under a new key-encryption key. It opens the store
 * itself (the SQLite file, or etcd), so it works whether or not nodes run. Records are not rewritten: the
 * data key stays the same. Running nodes keep the data key in memory and go on working; each needs the
 * new KEK at its next start (the old one then fails with KEK_MISMATCH).
 */
export function registerKek(program: Command): void {
  const kek = program.command('kek').description('the key-encryption key that protects data at rest');
  kek
    .command('rotate')
    .description('wrap the data key under a new KEK (files hold base64 of 32 bytes: openssl rand -base64 32)')
    .option('--old <file>', 'the current KEK file (default: <data-dir>/kek for the embedded store)')
    .requiredOption('--new <file>', 'the new KEK file')
    .option('-d, --data-dir <dir>', 'data directory of an embedded (SQLite) node', './data')
    .option('--etcd-endpoints <urls>', 'etcd client URLs, comma-separated: rotate a cluster instead', (v) =>
      v.split(',').map((s) => s.trim()),
    )
    .option('--etcd-prefix <prefix>', "the cluster's key prefix", '/leasehold/')
    .option('--etcd-tls-ca <file>', 'CA of the etcd members (mutual TLS, https endpoints)')
    .option('--etcd-tls-cert <file>', 'client certificate for etcd, PEM')
    .option('--etcd-tls-key <file>', 'private key of --etcd-tls-cert')
    .action(async (opts: RotateOptions) => {
      const dataDir = resolve(opts.dataDir);
      const oldFile = opts.old ?? (opts.etcdEndpoints ? undefined : join(dataDir, KEK_FILE));
      if (!oldFile) throw new Error('--old is required with --etcd-endpoints');
      const oldKek = readKekFile(oldFile).kek;
      const newKek = readKekFile(opts.new).kek;
      // Opening with the old KEK proves it (KEK_MISMATCH otherwise) before anything is written.
      const store: LeaseStore = opts.etcdEndpoints
        ? new EtcdStore({
            endpoints: opts.etcdEndpoints,
            prefix: opts.etcdPrefix,
            kek: oldKek,
            credentials: loadEtcdCredentials(opts),
            licenseKeys: NO_LICENSE_KEYS,
          })
        : new SqliteStore({ path: join(dataDir, DATABASE_FILE), kek: oldKek, licenseKeys: NO_LICENSE_KEYS });
      try {
        await store.ping();
        const rotated = await store.rotateKek(newKek);
        process.stdout.write(
          `data key ${rotated.dataKeyId}: wrapped under ${rotated.kek} (was ${kekFingerprint(oldKek)})\n` +
            'Running nodes keep working; start each with the new key (--kek-file or LEASEHOLD_KEK).\n',
        );
        if (opts.old === undefined && !opts.etcdEndpoints) {
          process.stdout.write(
            `${oldFile} still holds the old key: replace it with the new one, or remove it and start the ` +
              'node with --kek-file.\n',
          );
        }
      } finally {
        await store.close();
      }
    });
}
