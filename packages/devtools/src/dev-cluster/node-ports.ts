import { createServer } from 'node:net';

/**
 * `count` ports for the dev cluster's nodes on `host`: `base`, `base + 1`, … when the user chose a first
 * port (each is checked free by binding it), else ports the OS picks (`base` 0).
 */
export async function nodePorts(count: number, base: number, host: string): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const wanted = base === 0 ? 0 : base + i;
    ports.push(
      await new Promise<number>((resolvePort, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(wanted, host, () => {
          const address = server.address();
          server.close(() => resolvePort(typeof address === 'object' && address ? address.port : wanted));
        });
      }),
    );
  }
  return ports;
}
