import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  callGateway,
  makeVendor,
  type NodeProcess,
  spawnNode,
  startVendorCluster,
} from '@leasehold/devtools';
import { afterAll, describe, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { type Primary, runReplicaScenario } from './replica-scenario.js';

/** A port free now, for a primary that must come back at the same URL after a SIGKILL. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Real processes (issue 12, "must show"): replicas follow a primary through SIGKILLs of both sides.
describe('DR replicas of a primary, real processes', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('embedded primary: two replicas converge through crashes; a compacted-past one reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-repl-sqlite-'));
    dirs.push(dir);
    const vendor = await makeVendor(Date.now());
    const port = await freePort();
    const node: NodeProcess = await spawnNode({
      name: 'primary',
      url: `http://127.0.0.1:${port}`,
      args: [
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'primary'),
        '--vendor-key',
        vendor.writePublicKey(dir),
        '--log-level',
        'warn',
      ],
      env: {
        LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN,
        // Small history and quick purges, so the compaction case needs few writes.
        LEASEHOLD_FEED_RETENTION: '200',
        LEASEHOLD_ENDED_LEASE_RETENTION_MS: '500',
        LEASEHOLD_SWEEP_INTERVAL_MS: '200',
      },
      readiness: 'readyz',
    });
    const primary: Primary = {
      url: node.url,
      adminToken: ADMIN_TOKEN,
      vendor,
      crashAndRestart: () => node.restart(),
      async compactHistory() {
        // Past the retention (200 changes, pruned every 20 appends): 600 token writes.
        for (let i = 0; i < 600; i++) {
          const res = await fetch(`${node.url}/v1/tokens`, {
            method: 'POST',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ scope: 'operator' }),
            signal: AbortSignal.timeout(5000),
          });
          if (res.status !== 201) throw new Error(`token ${i}: ${res.status}`);
        }
      },
    };
    try {
      await runReplicaScenario(primary, dir);
    } finally {
      await node.kill('SIGKILL');
    }
  }, 180_000);

  it('etcd primary: two replicas converge through crashes; a compacted-past one reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-repl-etcd-'));
    dirs.push(dir);
    const { cluster, vendor } = await startVendorCluster(dir, {
      nodes: 2,
      adminToken: ADMIN_TOKEN,
      nodeEnv: { LEASEHOLD_ENDED_LEASE_RETENTION_MS: '500', LEASEHOLD_SWEEP_INTERVAL_MS: '200' },
    });
    const [first] = cluster.nodes;
    if (!first) throw new Error('no node');
    const etcdUrl = cluster.etcd.clientUrls()[0] ?? '';
    const primary: Primary = {
      url: first.url,
      adminToken: ADMIN_TOKEN,
      vendor,
      crashAndRestart: () => first.restart(),
      async compactHistory() {
        const status = await callGateway<{ header: { revision: string } }>(etcdUrl, '/v3/kv/range', {
          key: Buffer.from('/leasehold/license-rev').toString('base64'),
        });
        await callGateway(
          etcdUrl,
          '/v3/kv/compaction',
          { revision: status.header.revision, physical: true },
          {
            timeoutMs: 5000,
          },
        );
      },
    };
    try {
      await runReplicaScenario(primary, dir);
    } finally {
      await cluster.stop();
    }
  }, 240_000);
});
