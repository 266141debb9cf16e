import { type ClientEvents, type ClientOptions, createClient, type LeaseholdClient } from '@leasehold/client';
import { FakeCluster, type FakeClusterOptions, ManualClock } from '@leasehold/client/testing';

export const T0 = Date.UTC(2026, 0, 1);
export const EVENTS = ['renewed', 'failover', 'degraded', 'lost', 'restored', 'replaced'] as const;

export interface Recorded {
  /** Monotonic clock time when the event was emitted. */
  readonly at: number;
  readonly event: (typeof EVENTS)[number];
  readonly payload: ClientEvents[(typeof EVENTS)[number]];
}

export interface Harness {
  readonly clock: ManualClock;
  readonly cluster: FakeCluster;
  readonly client: LeaseholdClient;
  readonly events: Recorded[];
  /** Monotonic time of each request in `cluster.requests`, same order. */
  readonly requestTimes: number[];
  /** Event names in order, without `renewed` (the noisy one). */
  names(): string[];
}

/**
 * A client on a fake cluster, driven by a manual clock. The cluster keeps true time (T0 plus the
 * monotonic clock): stepping this machine's wall clock (`clock.jumpWall`) does not move the cluster's,
 * as in life. No jitter (random 0), no discovery.
 */
export async function harness(
  cluster: Omit<FakeClusterOptions, 'now' | 'clock'> = {},
  client: Partial<ClientOptions> = {},
): Promise<Harness> {
  const clock = new ManualClock(T0);
  const fake = await FakeCluster.start({ ...cluster, now: () => T0 + clock.monotonic(), clock });
  const requestTimes: number[] = [];
  const c = createClient({
    ...fake.clientOptions(),
    fetch: async (url, init) => {
      const before = fake.requests.length;
      try {
        return await fake.fetch(url, init);
      } finally {
        // Stamped when the node handled it (a request to a down or hanging node never arrives).
        for (let i = before; i < fake.requests.length; i++) requestTimes[i] = clock.monotonic();
      }
    },
    clientId: 'machine-1',
    clock,
    random: () => 0,
    discovery: false,
    ...client,
  });
  const events: Recorded[] = [];
  for (const event of EVENTS) {
    c.on(event, (payload) => events.push({ at: clock.monotonic(), event, payload }));
  }
  return {
    clock,
    cluster: fake,
    client: c,
    events,
    requestTimes,
    names: () => events.filter((e) => e.event !== 'renewed').map((e) => e.event),
  };
}

/** Monotonic times at which the cluster received a renewal. */
export function renewalTimes(h: Harness, since = 0): number[] {
  return h.cluster.requests
    .map((r, i) => ({ r, at: h.requestTimes[i] }))
    .filter(({ r, at }) => r.path.endsWith('/renew') && (at ?? 0) >= since)
    .map(({ at }) => at ?? -1);
}
