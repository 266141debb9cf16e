import { setTimeout as sleep } from 'node:timers/promises';
import { type History, type NodeRef, now } from '../history.js';
import { type ClientStats, runClient } from '../workload.js';
import { FEATURE, LICENSE_ID } from './result.js';

/**
 * The scenario's traffic: the fault run's clients (workload.ts), pinned to one node each and recorded in a
 * typed history; a /readyz prober per node; a sampler of the seats the store lists. All instants are
 * Date.now() readings (history.ts), like the history's.
 */

/** Clients per node; each is pinned to its node (no failover), so what a node answers is what we see. */
export const CLIENTS_PER_NODE = 3;
export const LEASE_TTL_S = 10;
/** Per-request timeout: well past the 2 s answer bound, so a slow answer is measured, not cut short. */
const FETCH_TIMEOUT_MS = 5000;

/** One HTTP call's answer, for the calls that are not lease operations (probes, admin reads). */
export interface Answer {
  /** Date.now() when sent and when answered (or failed). */
  readonly call: number;
  readonly ret: number;
  /** 0 when no answer came (timeout, connection error). */
  readonly status: number;
  readonly body: unknown;
  /** The problem's `code`, or `CLIENT_TIMEOUT` / `NETWORK_ERROR …` when no answer came. */
  readonly code: string | undefined;
}

/** One HTTP call with a deadline; never throws. */
export async function call(
  token: string,
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  timeoutMs = FETCH_TIMEOUT_MS,
): Promise<Answer> {
  const sent = now();
  try {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const code = (json as { code?: unknown } | undefined)?.code;
    return {
      call: sent,
      ret: now(),
      status: res.status,
      body: json,
      code: typeof code === 'string' ? code : undefined,
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return {
      call: sent,
      ret: now(),
      status: 0,
      body: undefined,
      code: e.name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : `NETWORK_ERROR ${e.cause?.code ?? e.message}`,
    };
  }
}

export const isOk = (a: { readonly status?: number | undefined }): boolean =>
  a.status !== undefined && a.status >= 200 && a.status < 300;

/** Starts CLIENTS_PER_NODE clients pinned to each node; they stop (checking their seats in) at `stopAt`. */
export function startClients(
  nodes: readonly NodeRef[],
  history: History,
  o: { readonly token: string; readonly stopAt: number; readonly seed: number },
): Promise<ClientStats[]> {
  const clients = nodes.flatMap((node, n) =>
    Array.from({ length: CLIENTS_PER_NODE }, (_, i) =>
      runClient(n * CLIENTS_PER_NODE + i, history, {
        nodes: [node],
        token: o.token,
        license: LICENSE_ID,
        features: [{ name: FEATURE, weight: 1 }],
        ttlMs: LEASE_TTL_S * 1000,
        requestTimeoutMs: FETCH_TIMEOUT_MS,
        stopAt: o.stopAt,
        abandonRate: 0,
        seed: o.seed,
        // Four renewals a second apart, then the seat goes back, and a pause so that waiting clients get it.
        holdMs: { min: 4500, max: 4500 },
        renewEveryMs: 1000,
        restMs: { min: 1000, max: 1000 },
      }),
    ),
  );
  return Promise.all(clients);
}

export interface Probe {
  readonly node: string;
  readonly call: number;
  readonly ret: number;
  readonly status: number;
  readonly code: string | undefined;
}

/** Polls GET /readyz of `node` one call after another until `stopAt`. */
export async function probeReady(
  token: string,
  node: NodeRef,
  stopAt: number,
  probes: Probe[],
): Promise<void> {
  for (let i = 0; i < 2000 && now() < stopAt; i++) {
    const r = await call(token, 'GET', `${node.url}/readyz`, undefined, 4000);
    probes.push({ node: node.name, call: r.call, ret: r.ret, status: r.status, code: r.code });
    await sleep(250);
  }
}

export interface SeatSample {
  readonly at: number;
  readonly node: string;
  readonly held: number;
}

/** Samples the seats the store says are held, through `pick()` (a node that is not cut off). */
export async function sampleSeats(
  token: string,
  pick: () => NodeRef,
  stopAt: number,
  samples: SeatSample[],
): Promise<void> {
  for (let i = 0; i < 2000 && now() < stopAt; i++) {
    const node = pick();
    const r = await call(token, 'GET', `${node.url}/v1/leases?feature=${FEATURE}`, undefined, 3000);
    if (isOk(r)) {
      const held = (r.body as { leases: unknown[] }).leases.length; // the leases holding seats now
      samples.push({ at: r.ret, node: node.name, held });
    }
    await sleep(500);
  }
}
