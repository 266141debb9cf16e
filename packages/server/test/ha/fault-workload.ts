import type { History, NodeRef } from './history.js';
import { type ClientStats, runClient } from './workload.js';

/**
 * The workload the fault run (fault-run.test.ts) and the soak (soak/main.ts) share: 20 clients on 4
 * pools of 5 seats with uneven demand — ~8 clients on alpha, ~6 on beta, ~4 on gamma, ~2 on delta, so
 * that the pools are contended — 6 s leases, 2 s per request, 15% of holds abandoned to expiry.
 */
export const FAULT_WORKLOAD = Object.freeze({
  clients: 20,
  seats: 5,
  ttlSeconds: 6,
  features: Object.freeze([
    { name: 'alpha', weight: 4 },
    { name: 'beta', weight: 3 },
    { name: 'gamma', weight: 2 },
    { name: 'delta', weight: 1 },
  ]),
  requestTimeoutMs: 2000,
  abandonRate: 0.15,
});

/** The license's `features` claim: every pool with its seats. */
export function workloadFeatures(): Record<string, { seats: number }> {
  return Object.fromEntries(FAULT_WORKLOAD.features.map((f) => [f.name, { seats: FAULT_WORKLOAD.seats }]));
}

/** Seats per pool (`<license>/<feature>`), as checker.ts's checkHistory takes them. */
export function workloadPools(license: string): Record<string, number> {
  return Object.fromEntries(
    FAULT_WORKLOAD.features.map((f) => [`${license}/${f.name}`, FAULT_WORKLOAD.seats]),
  );
}

/** Every client of the workload (workload.ts), on every node, until `stopAt`. */
export function runWorkloadClients(
  history: History,
  run: {
    readonly nodes: readonly NodeRef[];
    readonly token: string;
    readonly license: string;
    readonly stopAt: number;
    readonly seed: number;
  },
): Promise<ClientStats[]> {
  const { clients, features, ttlSeconds, requestTimeoutMs, abandonRate } = FAULT_WORKLOAD;
  return Promise.all(
    Array.from({ length: clients }, (_, i) =>
      runClient(i, history, { ...run, features, ttlMs: ttlSeconds * 1000, requestTimeoutMs, abandonRate }),
    ),
  );
}
