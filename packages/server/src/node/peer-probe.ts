import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Clock, PeriodicTask } from '@leasehold/domain';
import type { Membership } from '@leasehold/store';
import type { PeerClientTls } from '../tls/node-tls.js';

/** What one node knows of a peer's clock, from its recent probes. */
export interface PeerReading {
  /**
   * Peer clock minus ours, in ms (positive: the peer is ahead): from the recent probe with the shortest
   * round trip (RFC 5905 §10's clock filter), the one least disturbed by queueing on either side.
   */
  readonly clockSkewMs: number | undefined;
  /** Round trip of that probe; the skew is known to within ±rttMs/2. */
  readonly rttMs: number | undefined;
  /** Monotonic time (ms) of the last probe, successful or not. */
  readonly probedAt: number;
  /** Whether the last probe got an answer. */
  readonly reachable: boolean;
  readonly error?: string;
}

/** Asks one peer for its wall-clock time (ms since the epoch). */
export type PeerTimeRequest = (url: string, timeoutMs: number) => Promise<number>;

export interface PeerProbeOptions {
  readonly membership: Membership;
  readonly selfId: string;
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Deadline of one probe; an unanswered peer shows as unreachable. */
  readonly timeoutMs: number;
  readonly request: PeerTimeRequest;
  readonly log: { warn(obj: object, msg: string): void };
}

/**
 * Probes every live peer's clock (`GET /v1/peer/time`) each interval, NTP-style (RFC 5905 §8, with one
 * timestamp on the far side): skew = peerTime − (t0 + rtt/2), known to within ±rtt/2. The probe runs on
 * its own timer and connections, never on a request path, and stops with the node. Its readings feed
 * `GET /v1/cluster` and the `leasehold_peer_clock_skew_seconds` gauge.
 */
export class PeerProbe {
  readonly #readings = new Map<string, PeerReading>();
  /** The last successful samples of each peer, oldest first (at most FILTER_SAMPLES). */
  readonly #samples = new Map<string, { skew: number; rtt: number }[]>();
  /** Host names (or IPs) of the cluster's nodes, this one included, from the last membership read. */
  #hosts: ReadonlySet<string> = new Set();
  readonly #rounds: PeriodicTask;
  #started = false;
  #stopped = false;

  constructor(private readonly options: PeerProbeOptions) {
    this.#rounds = new PeriodicTask({
      clock: options.clock,
      intervalMs: options.intervalMs,
      run: () => this.probeOnce(),
      // probeOnce handles its own failures; anything else is a bug worth a line in the log.
      onError: (err) => options.log.warn({ err: describe(err) }, 'peer clock probe round failed'),
    });
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#rounds.start();
    // One round at once: peers check callers' names against the hosts it learns (peerHosts()).
    void this.#rounds.trigger();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#rounds.stop();
  }

  /**
   * Where the cluster's nodes live (the host of each advertised URL): a peer's client certificate must
   * name one of them (http/auth.ts), as its server certificate must for the peers that call it.
   */
  peerHosts(): ReadonlySet<string> {
    return this.#hosts;
  }

  /** The last reading of each peer still in the membership, by node id. */
  readings(): ReadonlyMap<string, PeerReading> {
    return this.#readings;
  }

  /** One round: every live peer at once. Public for tests that drive it without the timer. */
  async probeOnce(): Promise<void> {
    let nodes: Awaited<ReturnType<Membership['nodes']>>;
    try {
      nodes = await this.options.membership.nodes();
    } catch {
      return; // the store is away; the readings age, which lastProbeAgeMs shows
    }
    this.#hosts = new Set(nodes.map((n) => urlHost(n.url)).filter((h): h is string => h !== undefined));
    const peers = nodes.filter((n) => n.id !== this.options.selfId);
    for (const id of this.#readings.keys()) {
      if (!peers.some((p) => p.id === id)) {
        this.#readings.delete(id);
        this.#samples.delete(id);
      }
    }
    await Promise.all(
      peers.map(async (peer) => {
        const reading = await this.#probe(peer.id, peer.url);
        if (!this.#stopped) this.#readings.set(peer.id, reading);
      }),
    );
  }

  async #probe(id: string, url: string): Promise<PeerReading> {
    const { clock } = this.options;
    const sentAt = clock.now();
    const start = clock.monotonic();
    try {
      const peerTime = await this.options.request(url, this.options.timeoutMs);
      const end = clock.monotonic();
      const rtt = end - start;
      const samples = [...(this.#samples.get(id) ?? []), { skew: peerTime - (sentAt + rtt / 2), rtt }].slice(
        -FILTER_SAMPLES,
      );
      this.#samples.set(id, samples);
      const best = samples.reduce((a, b) => (b.rtt <= a.rtt ? b : a));
      return { clockSkewMs: best.skew, rttMs: best.rtt, probedAt: end, reachable: true };
    } catch (err) {
      const previous = this.#readings.get(id);
      if (previous?.reachable !== false) {
        this.options.log.warn({ peer: id, url, err: describe(err) }, 'peer clock probe failed');
      }
      return {
        clockSkewMs: previous?.clockSkewMs,
        rttMs: previous?.rttMs,
        probedAt: clock.monotonic(),
        reachable: false,
        error: describe(err),
      };
    }
  }
}

/** The host of a URL, without IPv6 brackets; undefined when it does not parse. */
function urlHost(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

/** How many recent samples the skew is chosen from: NTP's clock filter keeps eight (RFC 5905 §10). */
const FILTER_SAMPLES = 8;

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

/**
 * The real transport: HTTPS with this node's certificate (mutual TLS) when the node serves TLS, plain
 * HTTP otherwise. Kept-alive connections, so a probe measures one request, not a handshake.
 */
export function peerTimeRequest(tls: PeerClientTls | undefined): PeerTimeRequest & { close(): void } {
  const agent = tls
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets: 1,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      })
    : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const call = (base: string, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      const url = `${base.replace(/\/+$/, '')}/v1/peer/time`;
      const secure = url.startsWith('https:');
      if (tls && !secure) {
        reject(new Error(`refusing to probe ${url} in plaintext: this node uses TLS`));
        return;
      }
      const send = secure ? httpsRequest : httpRequest;
      const req = send(url, { agent, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { time?: unknown };
            if (res.statusCode !== 200 || typeof body.time !== 'number') {
              throw new Error(`GET ${url} answered ${res.statusCode}`);
            }
            resolve(body.time);
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  return Object.assign(call, { close: () => agent.destroy() });
}
