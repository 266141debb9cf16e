import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Lease, type LeaseholdClient } from '@leasehold/client';
import { type DevCluster, NodeProcess, startVendorCluster } from '@leasehold/devtools';
import { ETCD_SCHEMA_VERSION, EtcdGateway, Keyspace } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 13's rolling upgrade, end to end on real processes: 3 nodes on a 3-member etcd cluster start as
 * the previous release as far as the store is concerned (schema version N-1, through the test seam
 * LEASEHOLD_TEST_STORE_SCHEMA_VERSION), SDK clients check seats out, renew and check them in throughout,
 * and each node in turn is drained, stopped (SIGTERM) and started again at version N: the first of them
 * migrates the store while the other two, still at N-1, keep serving beside it. No checkout, renewal or
 * lease may fail or be lost. A node of version N-1 started after that is refused with
 * STORE_SCHEMA_TOO_NEW.
 */
const PREVIOUS = String(ETCD_SCHEMA_VERSION - 1);
const TTL_S = 5; // the shortest a license allows: renewals every ~1.7 s, many land on draining and restarting nodes
const CLIENTS = 6;
const LOAD_LIMIT_MS = 90_000;

interface ClientTally {
  checkouts: number;
  checkoutFailures: string[];
  releases: number;
  releaseFailures: string[];
  /** degraded, lost and replaced events: each one a renewal that did not get through or a lost lease. */
  trouble: string[];
}

describe('rolling restart from schema N-1 to N under SDK load', () => {
  let dir: string;
  let cluster: DevCluster;
  let clientToken: string;
  const nodes: NodeProcess[] = [];
  const clients: LeaseholdClient[] = [];
  let gateway: EtcdGateway;

  const admin = async <T>(url: string, method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${cluster.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  const storedSchema = async (): Promise<number> => {
    const { results } = await gateway.read([{ key: new Keyspace('/leasehold/').schema() }]);
    const kv = results[0]?.[0];
    return kv ? (JSON.parse(kv.value.toString()) as { version: number }).version : 0;
  };

  let vendorPem: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leasehold-rolling-'));
    const started = await startVendorCluster(dir, {
      nodeEnv: { LEASEHOLD_TEST_STORE_SCHEMA_VERSION: PREVIOUS, LEASEHOLD_DRAIN_DELAY_MS: '1000' },
    });
    cluster = started.cluster;
    vendorPem = started.vendor.publicPem;
    nodes.push(...cluster.nodes);
    gateway = new EtcdGateway({ endpoints: cluster.etcd.clientUrls() });
    const url = cluster.urls()[0] as string;
    const license = await started.vendor.issue({
      lid: 'lic-rolling',
      features: { app: { seats: 20 } },
      lease: { ttl: TTL_S, grace: 5, policy: 'strict' },
    });
    await admin(url, 'POST', '/v1/licenses', { license });
    ({ token: clientToken } = await admin<{ token: string }>(url, 'POST', '/v1/tokens', {
      scope: 'client',
      license: 'lic-rolling',
      name: 'rolling-sdk',
    }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    gateway?.close();
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** One client's loop: check out, hold 2.5-5.5 s while the SDK renews, check in; until `stop()`. */
  function runClient(index: number, stopped: () => boolean): { tally: ClientTally; done: Promise<void> } {
    const tally: ClientTally = {
      checkouts: 0,
      checkoutFailures: [],
      releases: 0,
      releaseFailures: [],
      trouble: [],
    };
    const client = createClient({
      servers: cluster.urls(),
      token: clientToken,
      clientId: `rolling-${index}`,
      timeoutMs: 1000,
      // The product's trust anchor: every grant must chain to a license this vendor signed (issue 11).
      vendorKeys: vendorPem,
    });
    clients.push(client);
    for (const event of ['degraded', 'lost', 'replaced'] as const) {
      client.on(event, (payload) => tally.trouble.push(`${event}: ${JSON.stringify(payload.lease.id)}`));
    }
    const done = (async () => {
      const started = Date.now();
      for (let cycle = 0; cycle < 1000 && !stopped() && Date.now() - started < LOAD_LIMIT_MS; cycle++) {
        let lease: Lease;
        try {
          lease = await client.checkout('app');
          tally.checkouts++;
        } catch (err) {
          tally.checkoutFailures.push(String(err));
          await sleep(200);
          continue;
        }
        await sleep(2500 + ((index * 577 + cycle * 311) % 3000));
        try {
          await lease.release();
          tally.releases++;
        } catch (err) {
          tally.releaseFailures.push(String(err));
        }
      }
    })();
    return { tally, done };
  }

  it('restarts every node, one at a time, with zero failed checkouts, renewals or check-ins and no lease lost', async () => {
    expect(await storedSchema()).toBe(Number(PREVIOUS));
    let stop = false;
    const load = Array.from({ length: CLIENTS }, (_, i) => runClient(i, () => stop));
    await sleep(3000);

    const schemaAfter: number[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const old = nodes[i] as NodeProcess;
      // Drain first (as an operator's `leasehold drain` does), then SIGTERM (which drains again for
      // LEASEHOLD_DRAIN_DELAY_MS and stops), then the next release on the same port and data directory.
      await admin(old.url, 'POST', '/v1/drain');
      await sleep(1000);
      await old.kill('SIGTERM');
      const { LEASEHOLD_TEST_STORE_SCHEMA_VERSION: _previous, ...env } = old.options.env ?? {};
      const upgraded = new NodeProcess({ ...old.options, env, readiness: 'readyz' });
      await upgraded.start(30_000);
      nodes[i] = upgraded;
      schemaAfter.push(await storedSchema());
      await sleep(3000); // load on the mixed cluster before the next node goes
    }
    stop = true;
    await Promise.all(load.map((l) => l.done));
    const tallies = load.map((l) => l.tally);

    // The first upgraded node migrated the store; the old nodes kept serving beside it.
    expect(schemaAfter).toEqual([ETCD_SCHEMA_VERSION, ETCD_SCHEMA_VERSION, ETCD_SCHEMA_VERSION]);
    expect(tallies.flatMap((t) => t.checkoutFailures)).toEqual([]);
    expect(tallies.flatMap((t) => t.releaseFailures)).toEqual([]);
    expect(tallies.flatMap((t) => t.trouble)).toEqual([]);
    const counters = clients.map((c) => c.metrics().counters);
    expect(counters.map((c) => c.renewalFailures)).toEqual(counters.map(() => 0));
    const checkouts = tallies.reduce((sum, t) => sum + t.checkouts, 0);
    const renewals = counters.reduce((sum, c) => sum + c.renewals, 0);
    expect(checkouts).toBeGreaterThan(CLIENTS * 5);
    expect(renewals).toBeGreaterThan(CLIENTS * 5);
    expect(tallies.reduce((sum, t) => sum + t.releases, 0)).toBe(checkouts);

    // No lease was lost on the cluster's side either: every one it granted ended by its client's
    // check-in, none by expiry or revocation, and none is still holding a seat.
    const { leases } = await admin<{ leases: { state: string; client: { id: string } }[] }>(
      nodes[0]?.url as string,
      'GET',
      '/v1/leases?license=lic-rolling&all=true&limit=10000',
    );
    const ours = leases.filter((l) => l.client.id.startsWith('rolling-'));
    expect(ours).toHaveLength(checkouts);
    expect(new Set(ours.map((l) => l.state))).toEqual(new Set(['released']));
    console.info(
      `rolling upgrade: ${checkouts} checkouts, ${renewals} renewals, ${checkouts} check-ins over 3 node restarts`,
    );
  }, 150_000);

  it('a node of the previous schema is refused by the migrated store with STORE_SCHEMA_TOO_NEW', async () => {
    const template = nodes[0] as NodeProcess;
    const stale = new NodeProcess({
      name: 'stale',
      args: withArgs(template.options.args, {
        '--port': '0',
        '--data-dir': join(dir, 'stale'),
        '--node-id': 'stale',
      }),
      env: {
        ...template.options.env,
        LEASEHOLD_TEST_STORE_SCHEMA_VERSION: PREVIOUS,
        LEASEHOLD_LOG_LEVEL: 'error',
      },
      readiness: 'readyz',
    });
    nodes.push(stale);
    const failure = await stale.start(15_000).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain(
      `STORE_SCHEMA_TOO_NEW: the etcd store has schema version ${ETCD_SCHEMA_VERSION}`,
    );
    expect(failure).toContain(`newer than version ${PREVIOUS}`);
    expect(stale.state).toBe('stopped');
  }, 30_000);
});

/** `args` with the values of the given flags replaced. */
function withArgs(args: readonly string[], values: Record<string, string>): string[] {
  return args.map((arg, i) => values[args[i - 1] ?? ''] ?? arg);
}
