import { readFileSync } from 'node:fs';
import Value from 'typebox/value';
import { type NodeConfig, NodeConfigSchema } from './config-schema.js';
import { edgeConfigProblems } from './edge-rules.js';
import { ENV_SETTINGS } from './env-keys.js';
import { tlsConfigProblems } from './tls-rules.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ConfigSources {
  /** Path of a JSON config file, if any. */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags; undefined entries are ignored. */
  readonly flags: Readonly<Partial<Record<keyof NodeConfig, unknown>>>;
}

function fromEnv(env: ConfigSources['env']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name, key, kind } of ENV_SETTINGS) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (kind === 'list') {
      out[key] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else if (kind === 'number') {
      // Anything but digits stays text, so the schema check names the setting and what it expected.
      out[key] = /^\d+$/.test(raw) ? Number(raw) : raw;
    } else {
      out[key] = raw;
    }
  }
  return out;
}

function fromFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Loads, checks and freezes the node configuration. Unknown keys and bad values name themselves. */
export function loadConfig(sources: ConfigSources): NodeConfig {
  const merged: Record<string, unknown> = {
    ...(sources.file ? fromFile(sources.file) : {}),
    ...fromEnv(sources.env),
    ...Object.fromEntries(Object.entries(sources.flags).filter(([, v]) => v !== undefined)),
  };
  const withDefaults = Value.Default(NodeConfigSchema, structuredClone(merged));
  if (!Value.Check(NodeConfigSchema, withDefaults)) {
    const problems = Value.Errors(NodeConfigSchema, withDefaults).map((e) => {
      if (e.keyword === 'additionalProperties') {
        const keys = (e.params as { additionalProperties: string[] }).additionalProperties;
        return `unknown setting ${keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `${e.instancePath.slice(1) || 'config'}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const tlsProblems = [...tlsConfigProblems(withDefaults), ...edgeConfigProblems(withDefaults)];
  if (tlsProblems.length > 0) throw new ConfigError(`invalid configuration: ${tlsProblems.join('; ')}`);
  return Object.freeze({
    ...withDefaults,
    vendorKeys: Object.freeze([...withDefaults.vendorKeys]),
  }) as NodeConfig;
}
