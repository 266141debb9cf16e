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
    /** The URL peers and clients use to reach this node (default: http://host:port). */
    advertiseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
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
    sweepIntervalMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    endedLeaseRetentionMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000 }),
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export type NodeConfig = Readonly<Static<typeof NodeConfigSchema>>;

/** Environment variables and the config keys they set. Lists are comma-separated. */
export const ENV_KEYS: Readonly<Record<string, keyof NodeConfig>> = {
  LEASEHOLD_HOST: 'host',
  LEASEHOLD_PORT: 'port',
  LEASEHOLD_DATA_DIR: 'dataDir',
  LEASEHOLD_STORE: 'store',
  LEASEHOLD_ETCD_ENDPOINTS: 'etcdEndpoints',
  LEASEHOLD_ETCD_PREFIX: 'etcdPrefix',
  LEASEHOLD_ADVERTISE_URL: 'advertiseUrl',
  LEASEHOLD_HEARTBEAT_INTERVAL_MS: 'heartbeatIntervalMs',
  LEASEHOLD_NODE_TTL_SECONDS: 'nodeTtlSeconds',
  LEASEHOLD_SQLITE_SYNCHRONOUS: 'sqliteSynchronous',
  LEASEHOLD_VENDOR_KEYS: 'vendorKeys',
  LEASEHOLD_LICENSE_DECRYPTION_KEYS: 'licenseDecryptionKeys',
  LEASEHOLD_ADMIN_TOKEN: 'adminToken',
  LEASEHOLD_LOG_LEVEL: 'logLevel',
  LEASEHOLD_SWEEP_INTERVAL_MS: 'sweepIntervalMs',
  LEASEHOLD_NODE_ID: 'nodeId',
};
