import { createClient } from '@leasehold/client';
import { FakeCluster, ManualClock } from '@leasehold/client/testing';
import { describe, expect, it } from 'vitest';

const clusterCalls = (cluster: FakeCluster) => cluster.requests.filter((r) => r.path === '/v1/cluster');

async function setup(options: { listNodes: boolean; nodes?: string[] }, configured?: string[]) {
  const clock = new ManualClock();
  const cluster = await FakeCluster.start({
    nodes: options.nodes ?? ['http://a.test', 'http://b.test'],
    listNodes: options.listNodes,
    now: () => clock.now(),
    clock,
  });
  const client = createClient({
    servers: configured ?? [cluster.urls[0] as string],
    token: cluster.token,
    fetch: cluster.fetch,
    vendorKeys: cluster.vendorKeys,
    clientId: 'machine-1',
    clock,
    random: () => 0,
    discovery: { intervalMs: 60_000 },
  });
  return { clock, cluster, client };
}

describe('node discovery', () => {
  it('keeps the configured list when /v1/cluster is refused to a client token (403), and stops asking', async () => {
    const { clock, cluster, client } = await setup({ listNodes: false });
    await clock.run(client.checkout('app'));
    await clock.advance(1);
    expect(client.metrics().discovery).toBe('unavailable');
    expect(client.servers).toEqual(['http://a.test/']);
    await clock.advance(600_000);
    expect(clusterCalls(cluster)).toHaveLength(1);
  });

  it('adds the nodes the cluster lists, and fails over to them', async () => {
    const { clock, cluster, client } = await setup({ listNodes: true });
    const lease = await clock.run(client.checkout('app'));
    await clock.advance(1);
    expect(client.servers).toEqual(['http://a.test/', 'http://b.test/']);
    expect(client.metrics().nodes.map((n) => n.source)).toEqual(['configured', 'discovered']);
    cluster.node(0).mode = 'down';
    await clock.advance(20_000);
    expect(lease.status).toBe('active');
    expect(cluster.requests.filter((r) => r.path.endsWith('/renew')).map((r) => r.node)).toEqual([
      'http://b.test',
    ]);
    // It refreshes every interval; a node the cluster no longer lists is dropped (b stays, a is configured).
    const before = clusterCalls(cluster).length;
    await clock.advance(60_000);
    expect(clusterCalls(cluster).length).toBe(before + 1);
  });

  it('never downgrades to a plain-http node when the configured nodes use https', async () => {
    const { clock, client } = await setup(
      { listNodes: true, nodes: ['https://a.test', 'http://b.test', 'https://c.test'] },
      ['https://a.test'],
    );
    await clock.run(client.checkout('app'));
    await clock.advance(1);
    expect(client.servers).toEqual(['https://a.test/', 'https://c.test/']);
  });

  it('does not ask at all with discovery: false', async () => {
    const clock = new ManualClock();
    const cluster = await FakeCluster.start({ listNodes: true, now: () => clock.now(), clock });
    const client = createClient({ ...cluster.clientOptions(), clientId: 'm', clock, discovery: false });
    await clock.run(client.checkout('app'));
    await clock.advance(120_000);
    expect(clusterCalls(cluster)).toHaveLength(0);
    expect(client.metrics().discovery).toBe('off');
  });
});
