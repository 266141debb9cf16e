/** What every member of one cluster is started with. */
export interface ClusterFlags {
  /** `name=peerUrl,…` for all members. */
  readonly initialCluster: string;
  readonly token: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly autoCompactionMode: 'periodic' | 'revision';
  readonly autoCompactionRetention: string;
  readonly quotaBackendBytes: number;
  readonly extraArgs: readonly string[];
  /** PEM files for mutual TLS on client and peer URLs; plaintext when absent. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

/** What differs between members. */
export interface MemberFlags {
  readonly name: string;
  readonly dataDir: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
}

/**
 * The etcd 3.5 command line of one member. `state` is `new` at cluster start and `existing` on restart
 * (etcd ignores both once its data dir is initialised, but `existing` is the truthful one).
 */
export function memberArgs(member: MemberFlags, cluster: ClusterFlags, state: 'new' | 'existing'): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${cluster.initialCluster}`,
    `--initial-cluster-state=${state}`,
    `--initial-cluster-token=${cluster.token}`,
    // 50 ms / 500 ms on loopback: leader kill to first write in 0.6-0.9 s (DESIGN.md, "etcd facts").
    // The election timeout also bounds how far a leader change stretches a lease's TTL.
    `--heartbeat-interval=${cluster.heartbeatMs}`,
    `--election-timeout=${cluster.electionMs}`,
    // Default true since 3.5 (false in 3.4): a member that rejoins after a pause or partition asks before
    // it campaigns, so it cannot depose a healthy leader and reset every lease's TTL for nothing.
    '--pre-vote=true',
    // Periodic, not revision-based: what a watcher or replica can resume from should be a time window it can
    // reason about ("history of the last hour"). At ~1,500 txn/s, revision retention of 10,000 would keep
    // only seconds of history, and a node that lost its watch for longer would have to re-list.
    `--auto-compaction-mode=${cluster.autoCompactionMode}`,
    `--auto-compaction-retention=${cluster.autoCompactionRetention}`,
    // etcd's default is 2 GiB. A test cluster far below it raises the NOSPACE alarm early on a runaway write
    // loop instead of filling the disk, and leaves room for hundreds of thousands of small keys.
    `--quota-backend-bytes=${cluster.quotaBackendBytes}`,
    '--logger=zap',
    '--log-level=warn',
    // stderr is the member's log file (spawn-etcd.ts), so Go panics land there too.
    '--log-outputs=stderr',
    ...tlsArgs(cluster.tls),
    ...cluster.extraArgs,
  ];
}

/**
 * Client and peer mutual TLS: every client and every peer must present a certificate from the CA. One
 * certificate (server and client usage) serves both sides, as the members call each other too.
 */
function tlsArgs(tls: ClusterFlags['tls']): string[] {
  if (!tls) return [];
  return [
    `--cert-file=${tls.cert}`,
    `--key-file=${tls.key}`,
    `--trusted-ca-file=${tls.ca}`,
    '--client-cert-auth=true',
    `--peer-cert-file=${tls.cert}`,
    `--peer-key-file=${tls.key}`,
    `--peer-trusted-ca-file=${tls.ca}`,
    '--peer-client-cert-auth=true',
  ];
}
