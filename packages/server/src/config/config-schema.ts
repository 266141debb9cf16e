import { MAX_CLOCK_SKEW_MS_LIMIT } from '@leasehold/domain';
import Type, { type Static } from 'typebox';

/**
 * The node's configuration: one schema is both the runtime check and the type (STYLE.md rule 3).
 * Sources, later wins: defaults < config file (`--config`) < environment (`LEASEHOLD_*`) < flags.
 * Unknown keys are refused by name; the result is frozen.
 */
export const NodeConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 7300 }),
    dataDir: Type.String({ minLength: 1, default: './data' }),
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('etcd')], { default: 'sqlite' }),
    etcdEndpoints: Type.Array(Type.String({ pattern: '^https?://' }), { default: [] }),
    /** Key prefix in etcd; several Leasehold clusters may share one etcd. */
    etcdPrefix: Type.String({ pattern: '^/.*/$', default: '/leasehold/' }),
    /** Per-call etcd deadline; store operations give up (503) after about 1.5x this without quorum. */
    etcdCallTimeoutMs: Type.Integer({ minimum: 50, maximum: 10_000, default: 500 }),
    /**
     * Group commit (docs/ha.md): how long a write may wait, while another batch is in flight, to go to
     * etcd with others as one transaction. 0 sends every write alone.
     */
    etcdBatchWindowMs: Type.Integer({ minimum: 0, maximum: 1000, default: 2 }),
    /**
     * Group commit (docs/ha.md): while this many batches of writes are in flight, the next waits for one to
     * return (at most 25 windows) instead of going at its window's end. 0: no limit (the window alone).
     */
    etcdBatchMaxInFlight: Type.Integer({ minimum: 0, maximum: 1000, default: 1 }),
    /**
     * Read batching (docs/ha.md): how long a single-key read may wait, while another read is in flight, to
     * go to etcd with others as one read-only transaction. 0 sends every read alone.
     */
    etcdReadBatchWindowMs: Type.Integer({ minimum: 0, maximum: 1000, default: 2 }),
    /**
     * Lease records a node keeps so that their renewals skip the read (docs/ha.md); ~1.2 KB each. 0: every
     * renewal reads first.
     */
    etcdLeaseCacheSize: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 40_000 }),
    /** Mutual TLS to etcd (https endpoints): CA of the members, our client certificate and key (PEM files). */
    etcdTlsCa: Type.Optional(Type.String({ minLength: 1 })),
    etcdTlsCert: Type.Optional(Type.String({ minLength: 1 })),
    etcdTlsKey: Type.Optional(Type.String({ minLength: 1 })),
    /** The node serves HTTPS only (no plaintext port) with this certificate and key (PEM files). */
    tlsCert: Type.Optional(Type.String({ minLength: 1 })),
    tlsKey: Type.Optional(Type.String({ minLength: 1 })),
    /** The cluster CA: verifies client certificates and the peers this node probes (PEM file). */
    tlsCa: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Client certificates: `none`; `optional` (default with tlsCa: SDK clients use bearer tokens, peers
     * present certificates, a certificate that fails verification ends the connection); `require`.
     */
    tlsClientAuth: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('optional'), Type.Literal('require')]),
    ),
    /** The URL peers and clients use to reach this node (default: http://host:port). */
    advertiseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
    /**
     * On SIGTERM the node fails /readyz for this long while still serving, so load balancers and SDKs
     * move away before it stops (HAProxy's checks need ~1 s, Kubernetes endpoints a few; docs/deploy.md).
     * 0 by default (a lone node and the test clusters have no one to hand over to); the image, the
     * systemd unit and the manifests set it.
     */
    drainDelayMs: Type.Integer({ minimum: 0, maximum: 120_000, default: 0 }),
    /** Whole seconds: a node that stops heartbeating drops out of the cluster after this. */
    nodeTtlSeconds: Type.Integer({ minimum: 2, maximum: 600, default: 3 }),
    sqliteSynchronous: Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')], { default: 'FULL' }),
    vendorKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    licenseDecryptionKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Presets the bootstrap admin token instead of generating one (secret; redacted in logs). */
    adminToken: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    /**
     * How often the elected node sweeps overdue leases. A lease that ran out waits for the next sweep to
     * be marked expired (its seat is free for checkouts at its deadline plus the margin either way): at
     * 1 s that wait alone was up to a second of the 2 s issue 14 allows from the deadline (with the 1 s
     * margin in it). A sweep with nothing due is one indexed read (etcd: one range of `by-deadline/`).
     */
    sweepIntervalMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 250 }),
    /**
     * How far two node clocks may disagree, ms (docs/ha.md "Expiry"): a seat whose lease ran out goes to
     * another client only this long after its deadline, so a node whose clock runs ahead (or one that wrote
     * the deadline from a clock behind) never hands out a seat its holder may still use. The same on every
     * node. 1 s by default: NTP keeps hosts within milliseconds, and a second of seat-return delay is small
     * beside lease TTLs of minutes; 0 turns the margin off (and the peer probe's check against it).
     */
    maxClockSkewMs: Type.Integer({ minimum: 0, maximum: MAX_CLOCK_SKEW_MS_LIMIT, default: 1000 }),
    endedLeaseRetentionMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000 }),
    /** Audit trail (docs/audit.md): how often the elected node seals pending records into the chain. */
    auditSealIntervalMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    /** How often the elected node signs a checkpoint of the chain's head (when it moved). */
    auditCheckpointIntervalMs: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 60_000 }),
    /** Sealed entries kept in the store; beyond this the oldest are archived to auditArchiveDir. 0: never. */
    auditMaxLiveEntries: Type.Integer({ minimum: 0, default: 100_000 }),
    /** Where archived audit segments go (default <dataDir>/audit-archive; shared storage in a cluster). */
    auditArchiveDir: Type.Optional(Type.String({ minLength: 1 })),
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Key-encryption key, base64 of 32 bytes (secret; redacted in logs). Prefer kekFile. */
    kek: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** A file holding the base64 KEK. Embedded default: <dataDir>/kek, made at first start. */
    kekFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Lease calls (checkout, renew, check-in, reads) per client token per node per minute; 0: off. */
    leaseRateLimitPerMinute: Type.Integer({ minimum: 0, default: 12_000 }),
    /** Failed authentications per client address per node per minute before 429; 0 turns it off. */
    authFailureLimitPerMinute: Type.Integer({ minimum: 0, default: 30 }),
    /**
     * The proxies in front of the node (addresses or CIDRs, or `loopback`, `linklocal`, `uniquelocal`):
     * from them X-Forwarded-For names the client's address (the failure limit is keyed by it). Empty:
     * the socket's address is the client's, and X-Forwarded-For is ignored.
     */
    trustProxy: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [] }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 128 * 1024 }),
    /** Request line plus headers; larger answers 431 (Node's `maxHeaderSize`). */
    maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: 16 * 1024 }),
    /** Whole request (headers and body) must arrive within this; 408 otherwise. */
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    /** Headers must arrive within this (slowloris); Node answers 408. */
    headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    /** An idle keep-alive connection closes after this. */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
    /**
     * Who may read /metrics: `public` (default: Prometheus scrapes without credentials; the numbers
     * name licenses and features but no clients or secrets) or `token` (an admin or operator token).
     */
    metricsAuth: Type.Union([Type.Literal('public'), Type.Literal('token')], { default: 'public' }),
    /**
     * Run as a read-only DR replica of this primary (docs/replication.md): the node follows the
     * primary's change feed into its own embedded store, serves reads, and answers writes with
     * REPLICA_READ_ONLY naming the primary.
     */
    replicaOf: Type.Optional(Type.String({ pattern: '^https?://' })),
    /**
     * The token this node calls its primary with (secret; redacted in logs): for a replica a `replica`-scope
     * token; for an edge a client token of its blocks' license, a `replica` token, or admin.
     */
    upstreamToken: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
    /** TLS toward the primary: its CA, and our client certificate and key for mTLS (PEM files). */
    upstreamTlsCa: Type.Optional(Type.String({ minLength: 1 })),
    upstreamTlsCert: Type.Optional(Type.String({ minLength: 1 })),
    upstreamTlsKey: Type.Optional(Type.String({ minLength: 1 })),
    /** How long a replica's feed request waits for a change (long-poll). */
    replicaWaitMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 25_000 }),
    /**
     * Changes the embedded store keeps for replicas that fall behind; one further behind reloads the
     * snapshot (docs/replication.md). On etcd the history is etcd's own (its auto-compaction).
     */
    feedRetention: Type.Integer({ minimum: 10, default: 100_000 }),
    /**
     * Edge site (docs/replication.md): the primary this node leases seat blocks from. Set, the node runs
     * on its embedded store and lends only the seats of its blocks, each lease ending by its block's deadline.
     */
    edgeOf: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** The blocks an edge holds, `LICENSE_ID:FEATURE=N` each (env: comma-separated). */
    seatBlocks: Type.Array(Type.String({ pattern: '^[^:=,\\s]+:[^:=,\\s]+=\\d{1,6}$' }), { default: [] }),
    /** How long the primary holds an edge's block (`4h`, `3s`); the edge renews it at a third of this. */
    blockTtl: Type.String({ pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)?$', default: '4h' }),
  },
  { additionalProperties: false },
);

export type NodeConfig = Readonly<Static<typeof NodeConfigSchema>>;
