import { Agent, createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultProxy } from '@leasehold/client/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** A loopback HTTP server that counts the requests it handled. */
let server: Server;
let handled = 0;
let target = '';
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    handled++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ handled }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  handled = 0;
});

async function proxy(): Promise<FaultProxy> {
  const p = await FaultProxy.start({ target });
  proxies.push(p);
  return p;
}

/** One GET through `agent` (a fresh keep-alive one by default); resolves to the status or the error's code. */
function request(
  url: string,
  agent = new Agent({ keepAlive: true }),
  timeoutMs = 300,
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

describe('FaultProxy', () => {
  it('passes traffic both ways, keep-alive included', async () => {
    const p = await proxy();
    const agent = new Agent({ keepAlive: true });
    expect(await request(p.url, agent)).toBe(200);
    expect(await request(p.url, agent)).toBe(200);
    expect(handled).toBe(2);
    expect(p.stats.connections).toBe(1);
  });

  it.each([
    {
      name: 'blackholes: holds the connection, nothing reaches the node, the client times out',
      mode: 'blackhole',
      answer: 'timeout',
      reached: 0,
      counted: 'blackholed',
    },
    {
      name: 'drops the response after the request reached the node',
      mode: 'drop-after-request',
      answer: 'ECONNRESET',
      reached: 1,
      counted: 'droppedResponses',
    },
  ] as const)('$name', async ({ mode, answer, reached, counted }) => {
    const p = await proxy();
    p.mode = mode;
    expect(await request(p.url)).toBe(answer);
    expect(handled).toBe(reached);
    expect(p.stats[counted]).toBe(1);
  });

  it('blackholes a kept-alive connection too, and it stays dead after the mode changes back', async () => {
    const p = await proxy();
    const agent = new Agent({ keepAlive: true });
    expect(await request(p.url, agent)).toBe(200);
    p.mode = 'blackhole';
    expect(await request(p.url, agent)).toBe('timeout');
    p.mode = 'pass';
    expect(await request(p.url)).toBe(200); // a new connection works
    expect(handled).toBe(2);
  });

  it('drops only the next n responses when asked', async () => {
    const p = await proxy();
    p.dropResponses(2);
    expect([await request(p.url), await request(p.url), await request(p.url)]).toEqual([
      'ECONNRESET',
      'ECONNRESET',
      200,
    ]);
    expect(handled).toBe(3);
  });

  it('closes the client connection when the node is gone', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const p = await FaultProxy.start({ target: `http://127.0.0.1:${port}` });
    proxies.push(p);
    expect(await request(p.url)).toBe('ECONNRESET'); // "socket hang up": closed before any answer
  });
});
