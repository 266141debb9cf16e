import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeConfigSchema } from '../../src/config/config-schema.js';
import { ENV_KEYS, ENV_SETTINGS, envName } from '../../src/config/env-keys.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

const fromEnv = (env: Record<string, string>) => loadConfig({ env, flags: {} });

/** Configuration sources and their order; the environment map is derived from the schema (issue 10). */
describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives every schema setting exactly one environment variable', () => {
    const keys = Object.keys(NodeConfigSchema.properties).sort();
    expect(Object.values(ENV_KEYS).sort()).toEqual(keys);
    expect(new Set(Object.keys(ENV_KEYS)).size).toBe(keys.length);
    // Names the README and existing deployments use keep their spelling under the derived rule.
    expect(ENV_KEYS).toMatchObject({
      LEASEHOLD_DATA_DIR: 'dataDir',
      LEASEHOLD_NODE_TTL_SECONDS: 'nodeTtlSeconds',
      LEASEHOLD_ETCD_TLS_CA: 'etcdTlsCa',
      LEASEHOLD_LICENSE_DECRYPTION_KEYS: 'licenseDecryptionKeys',
      LEASEHOLD_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
    });
  });

  it('reads each setting by its schema type: integers as numbers, arrays as comma lists', () => {
    const kinds = Object.fromEntries(ENV_SETTINGS.map((s) => [s.key, s.kind]));
    expect(kinds).toMatchObject({
      port: 'number',
      etcdCallTimeoutMs: 'number',
      endedLeaseRetentionMs: 'number',
      vendorKeys: 'list',
      etcdEndpoints: 'list',
      store: 'string',
      tlsCa: 'string',
    });
    for (const { key, kind } of ENV_SETTINGS) {
      const type = (NodeConfigSchema.properties[key] as { type?: string }).type;
      expect([key, kind === 'number']).toEqual([key, type === 'integer' || type === 'number']);
      expect([key, kind === 'list']).toEqual([key, type === 'array']);
    }
  });

  it('reads the clock margin (default 1000 ms) from env and flags, and refuses one out of range by name', () => {
    expect(fromEnv({}).maxClockSkewMs).toBe(1000);
    expect(fromEnv({ LEASEHOLD_MAX_CLOCK_SKEW_MS: '2000' }).maxClockSkewMs).toBe(2000);
    expect(loadConfig({ env: {}, flags: { maxClockSkewMs: 0 } }).maxClockSkewMs).toBe(0);
    expect(() => fromEnv({ LEASEHOLD_MAX_CLOCK_SKEW_MS: '60001' })).toThrow(ConfigError);
    expect(() => fromEnv({ LEASEHOLD_MAX_CLOCK_SKEW_MS: '60001' })).toThrow(/maxClockSkewMs/);
    expect(() => fromEnv({ LEASEHOLD_MAX_CLOCK_SKEW_MS: '-5' })).toThrow(/maxClockSkewMs/);
    expect(() => loadConfig({ env: {}, flags: { maxClockSkewMs: 1.5 } })).toThrow(/maxClockSkewMs/);
  });

  it('reads a replica from LEASEHOLD_REPLICA_OF and LEASEHOLD_UPSTREAM_TOKEN, and refuses half a replica', () => {
    const token = `lh_replica_${'r'.repeat(43)}`;
    const config = fromEnv({
      LEASEHOLD_REPLICA_OF: 'https://primary.example:7300',
      LEASEHOLD_UPSTREAM_TOKEN: token,
      LEASEHOLD_UPSTREAM_TLS_CA: '/etc/leasehold/ca.pem',
    });
    expect(config).toMatchObject({
      replicaOf: 'https://primary.example:7300',
      upstreamToken: token,
      upstreamTlsCa: '/etc/leasehold/ca.pem',
      replicaWaitMs: 25_000,
      feedRetention: 100_000,
    });
    expect(() => fromEnv({ LEASEHOLD_REPLICA_OF: 'https://primary.example:7300' })).toThrow(/upstreamToken/);
    expect(() =>
      fromEnv({
        LEASEHOLD_REPLICA_OF: 'https://primary.example:7300',
        LEASEHOLD_UPSTREAM_TOKEN: token,
        LEASEHOLD_STORE: 'etcd',
        LEASEHOLD_ETCD_ENDPOINTS: 'http://127.0.0.1:2379',
      }),
    ).toThrow(/store must be sqlite/);
    expect(() =>
      fromEnv({
        LEASEHOLD_UPSTREAM_TLS_CERT: '/c.pem',
        LEASEHOLD_REPLICA_OF: 'https://p',
        LEASEHOLD_UPSTREAM_TOKEN: token,
      }),
    ).toThrow(/upstreamTlsCert and upstreamTlsKey/);
  });

  it('sets etcdCallTimeoutMs and endedLeaseRetentionMs from LEASEHOLD_ETCD_CALL_TIMEOUT_MS and LEASEHOLD_ENDED_LEASE_RETENTION_MS', () => {
    expect(envName('etcdCallTimeoutMs')).toBe('LEASEHOLD_ETCD_CALL_TIMEOUT_MS');
    expect(envName('endedLeaseRetentionMs')).toBe('LEASEHOLD_ENDED_LEASE_RETENTION_MS');
    const defaults = fromEnv({});
    expect(defaults.etcdCallTimeoutMs).toBe(500);
    expect(defaults.endedLeaseRetentionMs).toBe(86_400_000);
    const config = fromEnv({
      LEASEHOLD_ETCD_CALL_TIMEOUT_MS: '750',
      LEASEHOLD_ENDED_LEASE_RETENTION_MS: '3600000',
    });
    expect(config.etcdCallTimeoutMs).toBe(750);
    expect(config.endedLeaseRetentionMs).toBe(3_600_000);
  });

  it('refuses bad values of the two variables, naming the setting', () => {
    expect(() => fromEnv({ LEASEHOLD_ETCD_CALL_TIMEOUT_MS: '10' })).toThrow(ConfigError);
    expect(() => fromEnv({ LEASEHOLD_ETCD_CALL_TIMEOUT_MS: '10' })).toThrow(/etcdCallTimeoutMs/);
    expect(() => fromEnv({ LEASEHOLD_ETCD_CALL_TIMEOUT_MS: '20000' })).toThrow(/etcdCallTimeoutMs/);
    expect(() => fromEnv({ LEASEHOLD_ENDED_LEASE_RETENTION_MS: '1h' })).toThrow(/endedLeaseRetentionMs/);
    expect(() => fromEnv({ LEASEHOLD_ENDED_LEASE_RETENTION_MS: '-5' })).toThrow(/endedLeaseRetentionMs/);
  });

  it('reads lists comma-separated, skipping blanks', () => {
    const config = fromEnv({
      LEASEHOLD_STORE: 'etcd',
      LEASEHOLD_ETCD_ENDPOINTS: 'http://127.0.0.1:2379, http://127.0.0.1:2380,,',
    });
    expect(config.etcdEndpoints).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.1:2380']);
  });

  it('layers defaults < file < environment < flags, and freezes the result', () => {
    const file = join(dir, 'layers.json');
    writeFileSync(file, JSON.stringify({ port: 7400, sweepIntervalMs: 2000, endedLeaseRetentionMs: 60_000 }));
    const config = loadConfig({
      file,
      env: { LEASEHOLD_SWEEP_INTERVAL_MS: '3000', LEASEHOLD_ENDED_LEASE_RETENTION_MS: '120000' },
      flags: { sweepIntervalMs: 4000, host: undefined },
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 7400,
      sweepIntervalMs: 4000,
      endedLeaseRetentionMs: 120_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses unknown settings by name, in a file and in flags', () => {
    const file = join(dir, 'unknown.json');
    writeFileSync(file, JSON.stringify({ etcdCallTimeout: 500 }));
    expect(() => loadConfig({ file, env: {}, flags: {} })).toThrow(/unknown setting "etcdCallTimeout"/);
    expect(() => loadConfig({ env: {}, flags: { colour: 'blue' } as never })).toThrow(
      /unknown setting "colour"/,
    );
  });

  it('reads an edge site from LEASEHOLD_EDGE_OF, _UPSTREAM_TOKEN, _SEAT_BLOCKS and _BLOCK_TTL, and refuses half of one', () => {
    const token = `lh_client_${'c'.repeat(43)}`;
    const config = fromEnv({
      LEASEHOLD_EDGE_OF: 'https://primary:7300',
      LEASEHOLD_UPSTREAM_TOKEN: token,
      LEASEHOLD_SEAT_BLOCKS: 'lic-1:solver=10, lic-1:viewer=4',
      LEASEHOLD_BLOCK_TTL: '3s',
    });
    expect(config).toMatchObject({
      edgeOf: 'https://primary:7300',
      upstreamToken: token,
      seatBlocks: ['lic-1:solver=10', 'lic-1:viewer=4'],
      blockTtl: '3s',
    });
    expect(fromEnv({}).blockTtl).toBe('4h');
    expect(() => fromEnv({ LEASEHOLD_EDGE_OF: 'https://primary:7300' })).toThrow(/upstreamToken.*seatBlocks/);
    expect(() => fromEnv({ LEASEHOLD_SEAT_BLOCKS: 'lic-1:solver=1' })).toThrow(/set edgeOf too/);
    const edge = { LEASEHOLD_EDGE_OF: 'http://p', LEASEHOLD_UPSTREAM_TOKEN: token };
    expect(() => fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'lic-1:solver' })).toThrow(/seatBlocks/);
    expect(() => fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'l:f=1,l:f=2' })).toThrow(/named twice/);
    expect(() => fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'l:f=1', LEASEHOLD_BLOCK_TTL: '500ms' })).toThrow(
      /at least 1s/,
    );
    expect(() => fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'l:f=1', LEASEHOLD_STORE: 'etcd' })).toThrow(
      /embedded store/,
    );
    // One upstream per node, and no TLS setting the edge would silently ignore.
    expect(() =>
      fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'l:f=1', LEASEHOLD_REPLICA_OF: 'http://q' }),
    ).toThrow(/edge \(edgeOf\) or a replica/);
    expect(() =>
      fromEnv({ ...edge, LEASEHOLD_SEAT_BLOCKS: 'l:f=1', LEASEHOLD_UPSTREAM_TLS_CA: '/ca.pem' }),
    ).toThrow(/upstreamTls\* settings need an https:\/\/ primary \(edgeOf is http:\/\/p\)/);
    // Toward an https:// primary an edge takes the same mTLS settings as a replica.
    const mtlsEdge = {
      LEASEHOLD_EDGE_OF: 'https://primary:7300',
      LEASEHOLD_UPSTREAM_TOKEN: token,
      LEASEHOLD_SEAT_BLOCKS: 'l:f=1',
    };
    expect(
      fromEnv({
        ...mtlsEdge,
        LEASEHOLD_UPSTREAM_TLS_CA: '/ca.pem',
        LEASEHOLD_UPSTREAM_TLS_CERT: '/edge.crt',
        LEASEHOLD_UPSTREAM_TLS_KEY: '/edge.key',
      }),
    ).toMatchObject({ upstreamTlsCa: '/ca.pem', upstreamTlsCert: '/edge.crt', upstreamTlsKey: '/edge.key' });
    expect(() => fromEnv({ ...mtlsEdge, LEASEHOLD_UPSTREAM_TLS_CERT: '/edge.crt' })).toThrow(
      /upstreamTlsCert and upstreamTlsKey go together/,
    );
    expect(() => fromEnv({ ...mtlsEdge, LEASEHOLD_UPSTREAM_TLS_KEY: '/edge.key' })).toThrow(
      /upstreamTlsCert and upstreamTlsKey go together/,
    );
    expect(() =>
      fromEnv({
        LEASEHOLD_REPLICA_OF: 'http://p',
        LEASEHOLD_UPSTREAM_TOKEN: token,
        LEASEHOLD_UPSTREAM_TLS_CA: '/ca.pem',
      }),
    ).toThrow(/need an https:\/\/ primary \(replicaOf is http:\/\/p\)/);
  });
});
