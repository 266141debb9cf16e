import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnDevClusterCli } from '../helpers/dev-cluster-cli.js';

/** `leasehold dev cluster`: starts 3 etcd members and 3 nodes, prints them, and SIGTERM stops them all. */
describe('leasehold dev cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-devcluster-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const processesUnder = (path: string) => {
    try {
      return execFileSync('pgrep', ['-f', path], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    } catch {
      return []; // pgrep exits 1 when nothing matches
    }
  };

  it('starts a healthy 3 + 3 cluster and stops everything on SIGTERM', async () => {
    const cli = spawnDevClusterCli(['--nodes', '3', '--etcd', '3', '--base-port', '0', '--data-dir', dir]);
    const { child } = cli;
    try {
      // bound 60 s (in started()), and 40 polls below: the whole test took 4.8-6.9 s (2 runs on 2026-12-06).
      const output = await cli.started();
      expect(output, output).toContain('Ctrl-C stops everything');
      const urls = [...output.matchAll(/^node-\d: (http:\/\/\S+)$/gm)].map((m) => m[1]);
      const token = /^admin token: (\S+)$/m.exec(output)?.[1];
      expect(urls).toHaveLength(3);
      expect(/^etcd: {2}(.+)$/m.exec(output)?.[1]?.split(' ')).toHaveLength(3);
      let cluster: {
        nodes: { healthy: boolean; role: string }[];
        storeMembers: { healthy: boolean; leader: boolean }[];
      } = { nodes: [], storeMembers: [] };
      // Heartbeats land within a second or two; poll a bounded number of times. A problem answer (the
      // store still settling right after start-up: 503 STORE_UNAVAILABLE) is one more poll, kept for the
      // failure message; it once arrived here as a body without `nodes` (CI, 2026-12-06).
      let lastProblem = '';
      for (let i = 0; i < 40; i++) {
        const res = await fetch(`${urls[2]}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } });
        if (res.ok) {
          cluster = (await res.json()) as typeof cluster;
          if (cluster.nodes.length === 3 && cluster.nodes.every((n) => n.healthy)) break;
        } else {
          lastProblem = `${res.status} ${await res.text()}`;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(
        cluster.nodes.map((n) => n.healthy),
        lastProblem,
      ).toEqual([true, true, true]);
      expect(cluster.nodes.filter((n) => n.role === 'leader')).toHaveLength(1);
      expect(cluster.storeMembers.filter((m) => m.healthy)).toHaveLength(3);
      expect(cluster.storeMembers.filter((m) => m.leader)).toHaveLength(1);
      expect(processesUnder(dir).length).toBeGreaterThanOrEqual(6);
    } finally {
      await cli.stop();
    }
    expect(child.exitCode).toBe(0);
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);
});
