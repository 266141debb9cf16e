import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeVendor, type NodeProcess, pollUntil, spawnNode } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { spawnSqliteNode } from '../helpers/sqlite-node.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { families, parseExposition, sampleValue } from './exposition.js';

const MONITORING = fileURLToPath(new URL('../../../../deploy/monitoring/', import.meta.url));
const PROMTOOL = '/usr/bin/promtool';
/** Families whose samples come from modules that may not be attached on a single SQLite node. */
const SOURCED_ELSEWHERE = new Set([
  'leasehold_peer_clock_skew_seconds',
  'leasehold_peer_clock_skew_beyond_margin',
  'leasehold_audit_chain_length',
  'leasehold_audit_unsealed_events',
]);
/** The primary's picture of its followers (docs/replication.md "Followers"): samples once a replica calls. */
const FOLLOWER_FAMILIES = [
  'leasehold_follower_last_seen_seconds',
  'leasehold_follower_lag_revisions',
  'leasehold_follower_lag_seconds',
];
/** Series Prometheus makes itself. */
const PROMETHEUS_BUILTIN = new Set(['up']);

function promtool(args: string[], input?: string) {
  const run = spawnSync(PROMTOOL, args, { input, cwd: MONITORING, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Metric names a PromQL expression reads (our prefixes only; label names and functions are not). */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b(leasehold_\w+|process_\w+|nodejs_\w+|up)\b(?!\s*\()/g)].map(
    (m) => m[1] as string,
  );
}

/** A sample name's family: histogram series end in _bucket, _sum, _count. */
function familyOf(name: string, exported: Set<string>): string | undefined {
  if (exported.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return exported.has(base) ? base : undefined;
}

describe('a live node and deploy/monitoring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-metrics-'));
  let node: NodeProcess;
  let replica: NodeProcess | undefined;
  let text: string;
  /** A DR replica's exposition (docs/replication.md): the replica families live there only. */
  let replicaText: string;
  /** The primary's exposition once the replica follows it. */
  let followedText: string;

  beforeAll(async () => {
    const vendor = await makeVendor(Date.now());
    vendor.writePublicKey(dir);
    node = await spawnSqliteNode(dir);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${node.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Real traffic, so that every family has samples: grants, a denial, a renewal, a check-in, a 404.
    const license = await vendor.issue({ features: { solver: { seats: 2 } } });
    expect((await call('POST', '/v1/licenses', { license })).status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/v1/leases', {
        feature: 'solver',
        client: { id: `c${i}` },
        requestId: randomUUID(),
      });
      if (res.status === 201) ids.push(((await res.json()) as { id: string }).id);
      else expect(((await res.json()) as { code: string }).code).toBe('SEATS_EXHAUSTED');
    }
    expect(ids).toHaveLength(2);
    expect((await call('POST', `/v1/leases/${ids[0]}/renew`)).status).toBe(200);
    expect((await call('DELETE', `/v1/leases/${ids[1]}`)).status).toBe(200);
    expect((await call('GET', '/no/such/route')).status).toBe(404);
    const res = await fetch(`${node.url}/metrics`);
    expect(res.status).toBe(200);
    text = await res.text();
    const made = await call('POST', '/v1/tokens', { scope: 'replica' });
    const upstreamToken = ((await made.json()) as { token: string }).token;
    replica = await spawnNode({
      args: ['--port', '0', '--data-dir', join(dir, 'replica'), '--log-level', 'warn'],
      env: { LEASEHOLD_REPLICA_OF: node.url, LEASEHOLD_UPSTREAM_TOKEN: upstreamToken },
      readiness: 'readyz',
      startTimeoutMs: 15_000,
    });
    const replicaUrl = replica.url;
    replicaText = await pollUntil(
      async () => {
        const scraped = await (await fetch(`${replicaUrl}/metrics`)).text();
        return scraped.includes('leasehold_replica_last_contact_seconds ') ? scraped : undefined;
      },
      { what: "the replica's first contact with its primary", timeoutMs: 10_000 },
    );
    followedText = await (await fetch(`${node.url}/metrics`)).text();
  });
  afterAll(async () => {
    await replica?.kill('SIGTERM');
    await node?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes `promtool check metrics`', () => {
    for (const exposition of [text, replicaText, followedText]) {
      const run = promtool(['check', 'metrics'], exposition);
      expect(run.output).toBe('');
      expect(run.status).toBe(0);
    }
  });

  it('has samples in every Leasehold family, histograms included, and counts the traffic exactly', () => {
    const samples = parseExposition(text);
    const missing = [...families(text)].filter(
      (f) =>
        f.startsWith('leasehold_') &&
        !SOURCED_ELSEWHERE.has(f) &&
        !FOLLOWER_FAMILIES.includes(f) &&
        !samples.some((s) => familyOf(s.name, new Set([f])) === f),
    );
    expect(missing).toEqual([]);
    const followed = parseExposition(followedText);
    for (const f of FOLLOWER_FAMILIES) {
      expect(
        followed.some((s) => s.name === f && s.labels.follower !== undefined),
        f,
      ).toBe(true);
    }
    expect(sampleValue(samples, 'leasehold_checkouts_granted_total')).toBe(2);
    expect(sampleValue(samples, 'leasehold_checkouts_denied_total', { reason: 'SEATS_EXHAUSTED' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_leases_renewed_total')).toBe(1);
    expect(sampleValue(samples, 'leasehold_leases_released_total')).toBe(1);
    expect(sampleValue(samples, 'leasehold_seats_in_use', { feature: 'solver' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_up')).toBe(1);
    expect(sampleValue(samples, 'leasehold_cluster_nodes')).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_leader_changes_total')).toBe(0);
    expect(
      sampleValue(samples, 'leasehold_http_request_duration_seconds_count', { route: '/v1/leases' }),
    ).toBe(3);
    expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('alert rules pass `promtool check rules` and their unit tests, and read exported metrics', () => {
    const check = promtool(['check', 'rules', 'alerts.yml']);
    expect(check.output).toContain('SUCCESS: 10 rules found');
    expect(check.status).toBe(0);
    const test = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(test.output).toContain('SUCCESS');
    expect(test.status).toBe(0);
    const config = promtool(['check', 'config', 'prometheus.yml']);
    expect(config.status).toBe(0);

    const exported = new Set([...families(text), ...families(replicaText)]);
    const rules = (
      parseYaml(readFileSync(join(MONITORING, 'alerts.yml'), 'utf8')) as {
        groups: { rules: { alert: string; expr: string }[] }[];
      }
    ).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'LeaseholdClockMarginMismatch',
      'LeaseholdClockSkew',
      'LeaseholdClockSkewBeyondMargin',
      'LeaseholdHighCheckoutDenialRate',
      'LeaseholdHighErrorRate',
      'LeaseholdNoStoreQuorum',
      'LeaseholdNodeDown',
      'LeaseholdReplicaLagging',
      'LeaseholdSeatsNearExhaustion',
      'LeaseholdStoreLeaderFlapping',
    ]);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) {
        if (!PROMETHEUS_BUILTIN.has(name))
          expect(familyOf(name, exported), `${rule.alert}: ${name}`).toBeDefined();
      }
    }
  });

  it('the Grafana dashboard is valid JSON whose every query reads a metric the node exports', () => {
    const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana/leasehold.json'), 'utf8')) as {
      uid: string;
      panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('leasehold');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const exported = families(text);
    const read = new Set<string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets ?? []) {
        const names = metricNames(expr);
        expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) {
          if (PROMETHEUS_BUILTIN.has(name)) continue;
          expect(familyOf(name, exported), `${panel.title}: ${name}`).toBeDefined();
          read.add(familyOf(name, exported) as string);
        }
      }
    }
    // Every Leasehold family is on the dashboard somewhere.
    expect([...exported].filter((f) => f.startsWith('leasehold_') && !read.has(f))).toEqual([]);
  });

  it('promtool is the Debian one the CI installs', () => {
    expect(execFileSync(PROMTOOL, ['--version'], { encoding: 'utf8' })).toMatch(/^promtool, version 2\./);
  });
});
