import { setTimeout as sleep } from 'node:timers/promises';
import { type History, type NodeRef, now, type Op, recordedFetch } from './history.js';
import { unavailable } from './summary.js';

/**
 * The fault run's clients: plain fetch (no SDK) so that every call is ours to time and record. Each client
 * knows every node and moves to the next one (round-robin) for every new call and on every failure to get
 * a usable answer. A client loops: check a seat out (one request id per checkout, reused on every retry of
 * it), hold it while renewing at a third of the TTL, then check it in — or, sometimes, just stop renewing
 * (abandon) so that expiry does the freeing.
 *
 * The partition scenario (partition/traffic.ts) runs the same clients pinned: each gets a one-node list, so
 * what that node answers is what it sees, with its own hold, renewal and rest times.
 *
 * Every loop is bounded by a count and by time.
 */
export interface WorkloadOptions {
  readonly nodes: readonly NodeRef[];
  readonly token: string;
  readonly license: string;
  /** Features with their relative demand (uneven, so that some pools are contended). */
  readonly features: readonly { readonly name: string; readonly weight: number }[];
  readonly ttlMs: number;
  /** Per-request timeout. */
  readonly requestTimeoutMs: number;
  /** Date.now() after which no new checkout starts and held seats are checked in. */
  readonly stopAt: number;
  /** Share of holds that end by abandoning the lease instead of checking it in. */
  readonly abandonRate: number;
  /** Seed of the clients' choices (each client derives its own generator from it). */
  readonly seed: number;
  /** How long a client holds a seat, drawn evenly from [min, max]; default 2-12 s. */
  readonly holdMs?: { readonly min: number; readonly max: number };
  /** Renewal period of a held lease; default a third of the TTL. */
  readonly renewEveryMs?: number;
  /** Pause after a hold ends, drawn evenly from [min, max]; default 100-400 ms. */
  readonly restMs?: { readonly min: number; readonly max: number };
}

export interface ClientStats {
  readonly client: string;
  checkouts: number;
  granted: number;
  exhausted: number;
  /** Checkouts given up without a definite answer (a lease may exist; it expires by itself). */
  unresolved: number;
  held: number;
  abandoned: number;
  /** Leases the client lost: a definite refusal of a renewal, or no renewal got through before expiry. */
  lost: number;
  checkedIn: number;
}

const MAX_CYCLES = 10_000;
const MAX_ATTEMPTS = 40;
const CHECKOUT_BUDGET_MS = 10_000;
const CHECKIN_BUDGET_MS = 8_000;
const HOLD_MS = { min: 2_000, max: 12_000 };
const REST_MS = { min: 100, max: 400 };

interface Held {
  readonly id: string;
  readonly pool: string;
  expiresAt: number;
  lastOk: number;
}

export async function runClient(index: number, history: History, o: WorkloadOptions): Promise<ClientStats> {
  const id = `client-${String(index + 1).padStart(2, '0')}`;
  const stats: ClientStats = {
    client: id,
    checkouts: 0,
    granted: 0,
    exhausted: 0,
    unresolved: 0,
    held: 0,
    abandoned: 0,
    lost: 0,
    checkedIn: 0,
  };
  let turn = index;
  let requestNo = 0;
  const random = seededRandom(o.seed + index * 7919);
  const jitter = (min: number, max: number) => sleep(min + random() * (max - min));
  const send = (spec: {
    kind: Op['kind'];
    pool: string;
    method: 'POST' | 'DELETE';
    path: string;
    body?: unknown;
    requestId?: string;
    leaseId?: string;
  }) => {
    const node = o.nodes[turn++ % o.nodes.length] as NodeRef;
    return recordedFetch(history, o.token, o.requestTimeoutMs, { ...spec, client: id, node });
  };

  const pickFeature = (): string => {
    const total = o.features.reduce((sum, f) => sum + f.weight, 0);
    let r = random() * total;
    for (const f of o.features) {
      r -= f.weight;
      if (r < 0) return f.name;
    }
    return o.features[o.features.length - 1]?.name ?? '';
  };

  /** A lease, 'exhausted', or undefined (no definite answer within the budget, or another refusal). */
  const checkout = async (feature: string): Promise<Held | 'exhausted' | undefined> => {
    const requestId = `${id}-r${++requestNo}`;
    const pool = `${o.license}/${feature}`;
    const body = { feature, license: o.license, client: { id }, requestId };
    const deadline = now() + CHECKOUT_BUDGET_MS;
    stats.checkouts++;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && now() < deadline; attempt++) {
      const op = await send({ kind: 'checkout', pool, method: 'POST', path: '/v1/leases', body, requestId });
      if (op.outcome === 'ok' && op.leaseId !== undefined && op.expiresAt !== undefined) {
        stats.granted++;
        return { id: op.leaseId, pool, expiresAt: op.expiresAt, lastOk: op.ret };
      }
      if (op.outcome === 'fail' && op.code === 'SEATS_EXHAUSTED') {
        stats.exhausted++;
        return 'exhausted';
      }
      if (!unavailable(op)) return undefined; // a definite refusal (e.g. 410: granted, expired before we knew)
      await jitter(100, 250);
    }
    stats.unresolved++;
    return undefined;
  };

  /** Renews every ttl/3 until `until`; false when the lease was lost. */
  const hold = async (lease: Held, until: number): Promise<boolean> => {
    for (let attempt = 0; attempt < MAX_ATTEMPTS * 10; ) {
      const due = lease.lastOk + (o.renewEveryMs ?? o.ttlMs / 3);
      const wake = Math.min(due, until, o.stopAt);
      if (wake > now()) await sleep(wake - now());
      if (now() >= until || now() >= o.stopAt) return true;
      // One renewal, with failover, until a definite answer or the lease's known expiry has passed.
      for (;;) {
        attempt++;
        const op = await send({
          kind: 'renew',
          pool: lease.pool,
          method: 'POST',
          path: `/v1/leases/${lease.id}/renew`,
          leaseId: lease.id,
        });
        if (op.outcome === 'ok' && op.expiresAt !== undefined) {
          lease.expiresAt = op.expiresAt;
          lease.lastOk = op.ret;
          break;
        }
        if (!unavailable(op) || now() > lease.expiresAt + 1000 || attempt >= MAX_ATTEMPTS * 10) {
          stats.lost++;
          return false;
        }
        await jitter(150, 300);
      }
    }
    return true;
  };

  const checkin = async (lease: Held): Promise<void> => {
    const deadline = now() + CHECKIN_BUDGET_MS;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && now() < deadline; attempt++) {
      const op = await send({
        kind: 'checkin',
        pool: lease.pool,
        method: 'DELETE',
        path: `/v1/leases/${lease.id}`,
        leaseId: lease.id,
      });
      if (op.outcome === 'ok') {
        stats.checkedIn++;
        return;
      }
      if (!unavailable(op)) return;
      await jitter(150, 300);
    }
  };

  // Spread the start over the first second.
  await jitter(0, 1000);
  for (let cycle = 0; cycle < MAX_CYCLES && now() < o.stopAt; cycle++) {
    const lease = await checkout(pickFeature());
    if (lease === 'exhausted') {
      await jitter(300, 700);
      continue;
    }
    if (!lease) {
      await jitter(200, 500);
      continue;
    }
    const abandon = random() < o.abandonRate;
    const holdMs = o.holdMs ?? HOLD_MS;
    const kept = await hold(lease, now() + holdMs.min + random() * (holdMs.max - holdMs.min));
    if (kept) {
      stats.held++;
      if (abandon) stats.abandoned++;
      else await checkin(lease);
    }
    const restMs = o.restMs ?? REST_MS;
    await jitter(restMs.min, restMs.max);
  }
  return stats;
}

/** A small seeded PRNG (mulberry32), so that a run's choices can be repeated from its printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
