import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, makeVendor, NodeProcess, pollUntil, type Vendor } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/test-app.js';

/**
 * Auto-recovery with no human action: a node started before etcd is up, a node that lives through a full
 * etcd outage, a node restarted after SIGKILL, and an etcd member restarted after SIGKILL all come back by
 * themselves. During the outage the node answers honestly: 503 STORE_UNAVAILABLE within 2 s.
 */
const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

// Default bound 20 s per wait: every test in this file took 2.95 s at most, the waits 7-140 ms after etcd
// was healthy (4 runs on 2026-12-06, one beside a CPU-bound process).
/** The kit's bounded wait for a check that may throw (a node that is down answers nothing); resolves with the ms it took. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  await pollUntil(() => check().catch(() => false), { what, timeoutMs, intervalMs: 100 });
  return Date.now() - started;
}

const ready = (url: string) => () =>
  fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2500) }).then((r) => r.status === 200);

describe('auto-recovery on etcd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-recovery-'));
  let etcd: EtcdCluster;
  let vendor: Vendor;
  const nodes: NodeProcess[] = [];

  const node = (name: string, port: number) => {
    const n = new NodeProcess({
      name,
      url: `http://127.0.0.1:${port}`,
      args: [
        '--store',
        'etcd',
        '--etcd-endpoints',
        etcd.clientUrls().join(','),
        '--port',
        String(port),
        '--data-dir',
        join(dir, name),
        '--node-id',
        name,
        '--vendor-key',
        join(dir, 'vendor.pub.pem'),
      ],
      env: {
        LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN,
        LEASEHOLD_LOG_LEVEL: 'warn',
        LEASEHOLD_HEARTBEAT_INTERVAL_MS: '500',
        // Every node of an etcd cluster shares one key-encryption key (docs/security.md).
        LEASEHOLD_KEK: Buffer.alloc(32, 1).toString('base64'),
      },
    });
    nodes.push(n);
    return n;
  };

  beforeAll(async () => {
    vendor = await makeVendor(Date.now());
    vendor.writePublicKey(dir);
    etcd = await EtcdCluster.start({ members: 3, dataDir: join(dir, 'etcd') });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Ports the OS says are free now (a random pick once collided with an etcd member's ephemeral port).
  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() =>
          typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
        );
      });
    });

  it('a node started before etcd is up becomes ready by itself', async () => {
    for (const m of etcd.members) await etcd.kill(m.name, 'SIGKILL');
    const early = node('early', await freePort());
    await early.start();
    const notReady = await fetch(`${early.url}/readyz`, { signal: AbortSignal.timeout(3000) });
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { code: string }).code).toBe('STORE_UNAVAILABLE');
    // Together: a lone member without quorum does not serve, so restarting them one by one would wait forever.
    await Promise.all(etcd.members.map((m) => etcd.restart(m.name)));
    await etcd.waitHealthy(20_000);
    const tookMs = await waitFor('the early node to become ready', ready(early.url));
    console.log(`auto-recovery: node started before etcd was ready ${tookMs} ms after etcd was healthy`);
    const license = await vendor.issue({ features: { solver: { seats: 2 } } });
    const install = await fetch(`${early.url}/v1/licenses`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ license }),
    });
    expect(install.status).toBe(201);
  }, 60_000);

  it('a node lives through a full etcd outage: honest 503s within 2 s, then serves again without restart', async () => {
    const [early] = nodes;
    if (!early) throw new Error('previous test did not start a node');
    for (const m of etcd.members) await etcd.kill(m.name, 'SIGKILL');
    const started = performance.now();
    const res = await fetch(`${early.url}/v1/leases`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ feature: 'solver', client: { id: 'c1' }, requestId: randomUUID() }),
      signal: AbortSignal.timeout(5000),
    });
    const answeredMs = performance.now() - started;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    // The product's promise (2 s, docs/architecture.md invariant 8), not loosened. Worst measured 140 ms
    // (21-140 ms, 5 runs on 2026-12-06, one beside a CPU-bound process; every member refuses at once and the
    // store gives up when a majority failed, member-reachability.ts; it was 1,507 ms before that).
    expect(answeredMs).toBeLessThan(2000);
    const readyStarted = performance.now();
    expect((await fetch(`${early.url}/readyz`)).status).toBe(503);
    const readyMs = performance.now() - readyStarted;
    console.error(
      `[timing] full etcd outage: checkout 503 in ${answeredMs.toFixed(0)} ms, /readyz 503 in ${readyMs.toFixed(0)} ms (bound 2000 ms)`,
    );
    // Same promise: worst measured 5 ms (4-5 ms, 4 runs on 2026-12-06, one beside a CPU-bound process).
    expect(readyMs).toBeLessThan(2000);

    // Together: a lone member without quorum does not serve, so restarting them one by one would wait forever.
    await Promise.all(etcd.members.map((m) => etcd.restart(m.name)));
    await etcd.waitHealthy(20_000);
    const tookMs = await waitFor('the node to serve again', ready(early.url));
    const checkout = await fetch(`${early.url}/v1/leases`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ feature: 'solver', client: { id: 'c1' }, requestId: randomUUID() }),
    });
    expect(checkout.status).toBe(201);
    // Its membership lease expired during the outage; it re-registers at its next heartbeat.
    await waitFor('the node to be listed again', async () => {
      const cluster = (await (await fetch(`${early.url}/v1/cluster`, { headers: auth })).json()) as {
        nodes: { id: string; healthy: boolean }[];
      };
      return cluster.nodes.some((n) => n.id === 'early' && n.healthy);
    });
    console.log(
      `auto-recovery: 503 answered in ${Math.round(answeredMs)} ms during the outage; ready ${tookMs} ms after etcd`,
    );
  }, 60_000);

  it('a node restarted after SIGKILL rejoins, and a restarted etcd member rejoins its cluster', async () => {
    const second = node('second', await freePort());
    await second.start();
    await waitFor('second ready', ready(second.url));
    await second.kill('SIGKILL');
    await second.start();
    await waitFor('second ready again', ready(second.url));
    await waitFor('both nodes listed', async () => {
      const cluster = (await (await fetch(`${second.url}/v1/cluster`, { headers: auth })).json()) as {
        nodes: { id: string; healthy: boolean }[];
      };
      return cluster.nodes.filter((n) => n.healthy).length === 2;
    });
    const leader = await etcd.leader();
    await etcd.kill(leader.name, 'SIGKILL');
    await etcd.restart(leader.name);
    const leaderAgain = await etcd.waitHealthy(20_000);
    expect(etcd.members.every((m) => m.state === 'running')).toBe(true);
    expect(leaderAgain).toBeDefined();
  }, 60_000);
});
