import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, nodeFetch } from '@leasehold/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from './support/cluster.js';
import { deadUrl } from './support/network.js';

let server: Server;
let base = '';
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url === '/moved')
        return res.writeHead(302, { location: 'http://elsewhere.test/' }).end('moved');
      if (req.url === '/big') return res.end('x'.repeat(2048));
      if (req.url === '/slow') return setTimeout(() => res.end('late'), 5_000).unref();
      res.writeHead(req.url === '/problem' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('nodeFetch', () => {
  const fetch = nodeFetch({ maxBodyBytes: 1024 });

  it('sends method, headers and body, and answers with status and body', async () => {
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: '{"a":"é"}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ echo: '{"a":"é"}' });
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/echo',
      headers: { authorization: 'Bearer t' },
    });
    expect((await fetch(`${base}/problem`, { method: 'GET' })).status).toBe(503);
  });

  it('gives a null body for 204 and never follows a redirect', async () => {
    expect(await (await fetch(`${base}/empty`, {})).text()).toBe('');
    const moved = await fetch(`${base}/moved`, {});
    expect([moved.status, await moved.text()]).toEqual([302, 'moved']);
  });

  it('fails like fetch: a TypeError whose cause has the system code', async () => {
    const err = await fetch(await deadUrl(), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    expect(await fetch(`${base}/big`, {}).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
  });

  it('aborts through the signal, with its reason', async () => {
    const controller = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('gave up')), 20);
    await expect(pending).rejects.toThrow('gave up');
  });
});

describe('the SDK on nodeFetch against real nodes', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
  });
  afterAll(() => cluster?.close());

  it('checks out, renews, fails over and releases', async () => {
    const dead = await deadUrl();
    const client = createClient({
      servers: [dead, ...cluster.urls],
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'node-fetch',
      fetch: nodeFetch(),
      random: () => 0,
      discovery: false,
    });
    const lease = await client.checkout('cad');
    expect(client.metrics().counters).toMatchObject({ failovers: 1, checkouts: 1, tokensVerified: 1 });
    await lease.renew();
    expect(client.isEntitled('cad')).toBe(true);
    await client.close();
    expect(lease.state).toBe('released');
  });
});
