import { isIP } from 'node:net';
import { resolve } from 'node:path';

/** Options of {@link EtcdCluster.start}. Unknown keys are rejected. */
export interface EtcdClusterOptions {
  /** Number of members: 1, 3 or 5. */
  readonly members: number;
  /** Base directory; each member gets `<dataDir>/<name>/` (etcd data in `data/`, log in `etcd.log`). */
  readonly dataDir: string;
  /** `--heartbeat-interval` in ms; default 50. */
  readonly heartbeatMs?: number;
  /** `--election-timeout` in ms; default 500, at least 5 x `heartbeatMs` (etcd's own rule). */
  readonly electionMs?: number;
  /**
   * Address each member binds, one per member; default `127.0.0.1` for all. Distinct loopback addresses
   * (`127.0.0.11`, `127.0.0.12`, …) let a partition test cut members apart with nftables.
   */
  readonly hosts?: readonly string[];
  /** Added to the members' environment (the parent's, without `ETCD_*` variables, which etcd would read). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** etcd binary; found with {@link locateEtcd} when omitted. */
  readonly bin?: string;
  /** `--auto-compaction-mode` and `--auto-compaction-retention`; default periodic, `1h`. */
  readonly autoCompaction?: { readonly mode: 'periodic' | 'revision'; readonly retention: string };
  /** `--quota-backend-bytes`; default 256 MiB. */
  readonly quotaBackendBytes?: number;
  /** More etcd flags for every member, e.g. `['--experimental-enable-lease-checkpoint=true']`. */
  readonly extraArgs?: readonly string[];
  /** Bound on start, from spawning to a healthy cluster with a leader; default 30 000 ms. */
  readonly startTimeoutMs?: number;
  /** fetch for the harness's HTTP calls to members; defaults to the global one. */
  readonly fetch?: typeof fetch;
  /**
   * Mutual TLS for clients and peers: members serve https URLs and require a certificate from this CA
   * (`--client-cert-auth`, `--peer-client-cert-auth`). The harness issues the members' and its own client
   * certificate from the CA directory (made by `initCertificateAuthority`, `leasehold certs init`) into
   * `<dataDir>/tls/`.
   */
  readonly tls?: { readonly caDir: string };
}

/** {@link EtcdClusterOptions} checked, with defaults filled in. */
export interface ClusterConfig {
  readonly size: number;
  readonly dataDir: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly hosts: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly bin: string | undefined;
  readonly autoCompaction: { readonly mode: 'periodic' | 'revision'; readonly retention: string };
  readonly quotaBackendBytes: number;
  readonly extraArgs: readonly string[];
  readonly startTimeoutMs: number;
  readonly fetch: typeof fetch;
  /** Whether the caller gave its own fetch (the TLS harness makes one otherwise). */
  readonly customFetch: boolean;
  readonly tls: { readonly caDir: string } | undefined;
}

const KNOWN_KEYS = new Set<string>([
  'members',
  'dataDir',
  'heartbeatMs',
  'electionMs',
  'hosts',
  'env',
  'bin',
  'autoCompaction',
  'quotaBackendBytes',
  'extraArgs',
  'startTimeoutMs',
  'fetch',
  'tls',
]);

/** Checks `options` once (caller mistakes throw `TypeError` naming the option) and fills in defaults. */
export function clusterConfig(options: EtcdClusterOptions): ClusterConfig {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) throw new TypeError(`EtcdCluster.start: unknown option '${key}'`);
  }
  const size = options.members;
  if (size !== 1 && size !== 3 && size !== 5) {
    throw new TypeError(`EtcdCluster.start: members must be 1, 3 or 5, got ${String(size)}`);
  }
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new TypeError('EtcdCluster.start: dataDir must be a directory path');
  }
  const heartbeatMs = options.heartbeatMs ?? 50;
  const electionMs = options.electionMs ?? 500;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 1) {
    throw new TypeError(`EtcdCluster.start: heartbeatMs must be a positive integer, got ${heartbeatMs}`);
  }
  // etcd refuses to start otherwise ("should be at least as 5 times as --heartbeat-interval"), and caps
  // the election timeout at 50 s.
  if (!Number.isInteger(electionMs) || electionMs < 5 * heartbeatMs || electionMs > 50_000) {
    throw new TypeError(
      `EtcdCluster.start: electionMs must be an integer from 5 x heartbeatMs (${5 * heartbeatMs}) to 50000, got ${electionMs}`,
    );
  }
  const hosts = options.hosts ?? Array.from({ length: size }, () => '127.0.0.1');
  if (hosts.length !== size) {
    throw new TypeError(
      `EtcdCluster.start: hosts must list one address per member (${size}), got ${hosts.length}`,
    );
  }
  for (const host of hosts) {
    if (isIP(host) === 0) throw new TypeError(`EtcdCluster.start: host '${host}' is not an IP address`);
  }
  const quotaBackendBytes = options.quotaBackendBytes ?? 256 * 1024 * 1024;
  if (!Number.isSafeInteger(quotaBackendBytes) || quotaBackendBytes < 0) {
    throw new TypeError(`EtcdCluster.start: quotaBackendBytes must be a non-negative integer`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!(startTimeoutMs > 0)) throw new TypeError('EtcdCluster.start: startTimeoutMs must be positive');
  if (options.tls !== undefined && (typeof options.tls.caDir !== 'string' || options.tls.caDir === '')) {
    throw new TypeError('EtcdCluster.start: tls.caDir must be the directory of a CA (ca.crt, ca.key)');
  }
  return Object.freeze({
    size,
    dataDir: resolve(options.dataDir),
    heartbeatMs,
    electionMs,
    hosts: Object.freeze([...hosts]),
    env: Object.freeze({ ...options.env }),
    bin: options.bin,
    autoCompaction: Object.freeze({ ...(options.autoCompaction ?? { mode: 'periodic', retention: '1h' }) }),
    quotaBackendBytes,
    extraArgs: Object.freeze([...(options.extraArgs ?? [])]),
    startTimeoutMs,
    fetch: options.fetch ?? fetch,
    customFetch: options.fetch !== undefined,
    tls: options.tls ? Object.freeze({ caDir: resolve(options.tls.caDir) }) : undefined,
  });
}
