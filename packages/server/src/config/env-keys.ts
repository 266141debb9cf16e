import { type NodeConfig, NodeConfigSchema } from './config-schema.js';

/**
 * Environment variables, derived from the schema so that no setting can lack one and no parsing rule can
 * name a setting that is gone (issue 10: `etcdCallTimeoutMs` and `endedLeaseRetentionMs` had number rules
 * but no variable, because the lists were written by hand).
 */

/** How a variable's text becomes a value: lists are comma-separated, whole numbers become numbers. */
export type EnvValueKind = 'list' | 'number' | 'string';

/** `etcdCallTimeoutMs` → `LEASEHOLD_ETCD_CALL_TIMEOUT_MS`. */
export function envName(key: keyof NodeConfig): string {
  return `LEASEHOLD_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function kindOf(schema: unknown): EnvValueKind {
  const type = (schema as { type?: unknown }).type;
  if (type === 'array') return 'list';
  if (type === 'integer' || type === 'number') return 'number';
  return 'string';
}

/** One entry per setting: its variable's name and how to read its value. */
export interface EnvSetting {
  readonly name: string;
  readonly key: keyof NodeConfig;
  readonly kind: EnvValueKind;
}

export const ENV_SETTINGS: readonly EnvSetting[] = Object.freeze(
  Object.entries(NodeConfigSchema.properties).map(([key, schema]) =>
    Object.freeze({
      name: envName(key as keyof NodeConfig),
      key: key as keyof NodeConfig,
      kind: kindOf(schema),
    }),
  ),
);

/** Environment variables and the config keys they set. */
export const ENV_KEYS: Readonly<Record<string, keyof NodeConfig>> = Object.freeze(
  Object.fromEntries(ENV_SETTINGS.map((s) => [s.name, s.key])),
);
