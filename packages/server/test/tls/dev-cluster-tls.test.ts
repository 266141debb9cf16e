import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnDevClusterCli } from '../helpers/dev-cluster-cli.js';
import { httpsGet } from './support.js';

/** `leasehold dev cluster --tls`: the whole cluster over mutual TLS, from the command a developer runs. */
describe('leasehold dev cluster --tls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-devcluster-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the CA and https URLs; nodes, etcd and the peer probe all work over TLS', async () => {
    const cli = spawnDevClusterCli(['--tls', '--nodes', '2', '--etcd', '1', '--base-port', '0', '-d', dir]);
    const { child } = cli;
    try {
      // bound 60 s (in started()), 60 polls of 250 ms below: the whole test took 3.4 s at most (4 runs on 2026-12-06).
      const output = await cli.started();
      expect(output, output).toContain('Ctrl-C stops everything');
      const caFile = /^CA: +(\S+)$/m.exec(output)?.[1];
      const token = /^admin token: (\S+)$/m.exec(output)?.[1];
      const urls = [...output.matchAll(/^node-\d: (\S+)$/gm)].map((m) => m[1]!);
      expect(urls).toHaveLength(2);
      expect(urls.every((u) => u.startsWith('https://'))).toBe(true);
      expect(/^etcd: +(.+)$/m.exec(output)?.[1]).toMatch(/^https:\/\//);
      const ca = readFileSync(caFile!, 'utf8');

      // A client with the CA and a bearer token (no client certificate) sees both nodes, the etcd member
      // (read through etcd's JSON gateway with the node's client certificate) and the clock probe.
      let view: {
        nodes: { id: string; healthy: boolean; reachable?: boolean; clockSkewMs?: number; self: boolean }[];
        storeMembers: { healthy: boolean }[];
      } = { nodes: [], storeMembers: [] };
      for (let i = 0; i < 60; i++) {
        const res = await httpsGet(`${urls[0]}/v1/cluster`, {
          ca,
          headers: { authorization: `Bearer ${token}` },
        });
        if ('status' in res && res.status === 200) {
          view = JSON.parse(res.body) as typeof view;
          if (view.nodes.length === 2 && view.nodes.some((n) => !n.self && n.reachable)) break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(view.nodes.map((n) => n.healthy)).toEqual([true, true]);
      expect(view.storeMembers.map((m) => m.healthy)).toEqual([true]);
      const peer = view.nodes.find((n) => !n.self);
      expect(peer?.reachable).toBe(true);
      console.error(`[timing] dev cluster over TLS: peer clock skew ${peer?.clockSkewMs} ms (bound ±250 ms)`);
      // bound ±250 ms: worst measured 13 ms (6-13 ms, 4 runs on 2026-12-06, one beside a CPU-bound process).
      expect(Math.abs(peer?.clockSkewMs ?? Number.NaN)).toBeLessThan(250);

      // Plaintext to a node's port gets no HTTP answer.
      const plain = await new Promise<string>((resolve) => {
        const req = httpRequest(`${urls[0]!.replace('https://', 'http://')}/healthz`, (res) =>
          resolve(`answered ${res.statusCode}`),
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        req.end();
      });
      expect(plain).toBe('ECONNRESET');
    } finally {
      await cli.stop();
    }
    expect(child.exitCode, cli.output()).toBe(0);
  }, 120_000);
});
