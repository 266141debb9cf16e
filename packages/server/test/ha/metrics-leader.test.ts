import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCluster } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, type Sample, sampleValue } from '../observability/exposition.js';

/**
 * `leasehold_store_leader_changes_total` on a real 3-member etcd cluster: 0 while the leader holds, 1
 * once the leader is SIGKILLed and another member takes over; the node also reports the dead member
 * as unhealthy, and its /metrics passes `promtool check metrics` with the etcd store.
 */
describe('metrics on a 3-member etcd cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-metrics-etcd-'));
  let cluster: DevCluster;

  beforeAll(async () => {
    cluster = await DevCluster.start({
      nodes: 1,
      etcdMembers: 3,
      dataDir: join(dir, 'cluster'),
      fresh: true,
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<{ text: string; samples: Sample[] }> => {
    const res = await fetch(`${cluster.urls()[0]}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    const text = await res.text();
    return { text, samples: parseExposition(text) };
  };

  /**
   * Scrapes until `done` holds (the node reuses its membership view for 2 s); bounded (20 s: the whole
   * test took 2.3 s in 2 runs on 2026-12-06).
   */
  async function scrapeUntil(done: (samples: Sample[]) => boolean, timeoutMs = 20_000): Promise<Sample[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { samples } = await scrape();
      if (done(samples) || Date.now() > deadline) return samples;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('counts one leader change after the etcd leader is killed', async () => {
    const healthy = (s: Sample[]) => sampleValue(s, 'leasehold_store_members', { state: 'healthy' });
    let samples = await scrapeUntil((s) => healthy(s) === 3);
    expect(healthy(samples)).toBe(3);
    expect(sampleValue(samples, 'leasehold_node_info', { store: 'etcd' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_up')).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_leader_changes_total')).toBe(0);
    const { text } = await scrape();
    const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);

    const leader = await cluster.etcd.leader();
    await cluster.etcd.kill(leader.name, 'SIGKILL');
    await cluster.etcd.leader(15_000); // another member leads
    samples = await scrapeUntil(
      (s) =>
        sampleValue(s, 'leasehold_store_leader_changes_total') === 1 &&
        sampleValue(s, 'leasehold_store_members', { state: 'unhealthy' }) === 1,
    );
    expect(sampleValue(samples, 'leasehold_store_leader_changes_total')).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_members', { state: 'unhealthy' })).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_up')).toBe(1); // two of three keep quorum
  }, 60_000);
});
