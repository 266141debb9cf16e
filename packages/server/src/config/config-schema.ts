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
    store: Type.Literal('sqlite', { default: 'sqlite' }),
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
  LEASEHOLD_SQLITE_SYNCHRONOUS: 'sqliteSynchronous',
  LEASEHOLD_VENDOR_KEYS: 'vendorKeys',
  LEASEHOLD_LICENSE_DECRYPTION_KEYS: 'licenseDecryptionKeys',
  LEASEHOLD_ADMIN_TOKEN: 'adminToken',
  LEASEHOLD_LOG_LEVEL: 'logLevel',
  LEASEHOLD_SWEEP_INTERVAL_MS: 'sweepIntervalMs',
  LEASEHOLD_NODE_ID: 'nodeId',
};
