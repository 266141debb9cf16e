import { createServer, type Server } from 'node:net';

/**
 * Finds one free TCP port on each of `hosts` (a host may repeat): binds port 0 there, reads the port the
 * kernel chose, and closes only after all are bound so that no two answers collide. Another process can
 * still take a port between the close and etcd's bind; cluster start retries when etcd reports
 * EADDRINUSE.
 */
export async function freePorts(hosts: readonly string[]): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (const host of hosts) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: 0, host, exclusive: true }, () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error(`no TCP address bound on ${host}`);
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
