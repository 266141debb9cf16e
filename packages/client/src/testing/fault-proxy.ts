import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * What a {@link FaultProxy} does with traffic:
 * - `pass`: forwards both ways.
 * - `blackhole`: accepts connections and holds them, forwarding nothing either way (a partition, a
 *   dropped route: the client learns of it only by its own timeout). A connection that saw the blackhole
 *   stays dead after the mode changes back, as a real one would.
 * - `drop-after-request`: forwards the request, swallows the response and resets the connection: the
 *   node did the work, the client never hears of it (a write whose outcome is unknown).
 */
export type FaultMode = 'pass' | 'blackhole' | 'drop-after-request';

/** What a proxy has seen since it started. */
export interface FaultProxyStats {
  readonly connections: number;
  /** Responses swallowed in `drop-after-request` mode (or by `dropResponses`). */
  readonly droppedResponses: number;
  /** Connections held in `blackhole` mode. */
  readonly blackholed: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Where to forward, e.g. a node's `http://127.0.0.1:7300` (the path is ignored). */
  readonly target: string;
  /** Loopback by default. */
  readonly host?: string;
  /** Port to listen on; 0 (default) lets the OS choose. */
  readonly port?: number;
  readonly mode?: FaultMode;
}

/**
 * A small TCP proxy for fault tests, on loopback, in front of one node: put one before each node, give
 * the client the proxies' URLs, and cut, hold or half-break the traffic while real processes run (etcd3's
 * test suite has the same idea). Plain TCP, so it works for HTTP/1.1 with keep-alive.
 *
 * @example
 * ```ts
 * const proxy = await FaultProxy.start({ target: 'http://127.0.0.1:7300' });
 * const client = createClient({ servers: [proxy.url], token, clientId, discovery: false });
 * proxy.mode = 'blackhole'; // the node is unreachable; the client times out and runs on grace
 * ```
 */
export class FaultProxy {
  mode: FaultMode;
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #dropNext = 0;
  #stats = { connections: 0, droppedResponses: 0, blackholed: 0 };
  #url = '';

  private constructor(options: FaultProxyOptions) {
    const target = new URL(options.target);
    this.#target = {
      host: target.hostname,
      port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
    };
    this.mode = options.mode ?? 'pass';
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(options.port ?? 0, host, () => resolve());
    });
    const address = proxy.#server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    proxy.#url = `http://${host}:${port}`;
    return proxy;
  }

  /** `http://host:port` of the proxy. */
  get url(): string {
    return this.#url;
  }

  get stats(): FaultProxyStats {
    return { ...this.#stats };
  }

  /** Swallows the next `count` responses (as in `drop-after-request`), then passes again. */
  dropResponses(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new TypeError('count must be a non-negative integer');
    this.#dropNext = count;
  }

  /** Stops listening and destroys every connection, held ones included. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined); // resets are part of the job
  }

  #accept(client: Socket): void {
    this.#stats.connections++;
    this.#track(client);
    let dead = false;
    let upstream: Socket | undefined;
    const holdForever = () => {
      if (!dead) this.#stats.blackholed++;
      dead = true;
      upstream?.destroy();
    };
    if (this.mode === 'blackhole') {
      holdForever();
      client.on('data', () => undefined); // read and drop: nothing arrives anywhere
      return;
    }
    const up = connect(this.#target);
    upstream = up;
    this.#track(up);
    // The node is gone (refused, reset): so is the client's connection, as through any TCP proxy.
    up.on('close', () => {
      if (!dead) client.destroy();
    });
    client.on('close', () => up.destroy());
    client.on('data', (chunk) => {
      if (dead) return;
      if (this.mode === 'blackhole') return holdForever();
      up.write(chunk);
    });
    up.on('data', (chunk) => {
      if (dead) return;
      if (this.mode === 'blackhole') return holdForever();
      if (this.mode === 'drop-after-request' || this.#dropNext > 0) {
        if (this.#dropNext > 0) this.#dropNext--;
        this.#stats.droppedResponses++;
        dead = true;
        up.destroy();
        client.resetAndDestroy();
        return;
      }
      client.write(chunk);
    });
  }
}
