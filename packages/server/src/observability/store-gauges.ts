import type { Clock } from '@leasehold/domain';
import type { LeaseStore, SeatUsage } from '@leasehold/store';
import type { NodeMetrics } from './node-metrics.js';
import { scrapeCache } from './scrape-cache.js';

/** How long one seat-usage read serves scrapes. */
const SEAT_USAGE_TTL_MS = 5000;

/**
 * Seats licensed, in use and free per license and feature (bounded by the installed licenses), and
 * whether the store answers at all. Read at scrape time; a store that cannot answer drops the seat
 * series for that scrape rather than reporting stale numbers, and reports `leasehold_store_up 0`.
 */
export function addStoreGauges(metrics: NodeMetrics, store: LeaseStore, clock: Clock): void {
  const usage = scrapeCache(
    () => store.seatUsage(clock.now()),
    SEAT_USAGE_TTL_MS,
    () => clock.monotonic(),
  );
  const seats = (value: (u: SeatUsage) => number) => async () => {
    const rows = await usage().catch(() => []);
    return rows.map((u) => ({ labels: { license: u.licenseId, feature: u.feature }, value: value(u) }));
  };
  const labels = ['license', 'feature'];
  metrics.gauge(
    'leasehold_seats_licensed',
    'Seats a license grants for a feature.',
    seats((u) => u.seats),
    labels,
  );
  metrics.gauge(
    'leasehold_seats_in_use',
    'Seats held by live leases.',
    seats((u) => u.inUse),
    labels,
  );
  metrics.gauge(
    'leasehold_seats_free',
    'Seats free for checkout (licensed − in use, never below 0).',
    seats((u) => Math.max(0, u.seats - u.inUse)),
    labels,
  );
  metrics.gauge(
    'leasehold_store_up',
    '1 when the store answered a linearizable read at scrape time.',
    async () => [
      {
        value: await store.ping().then(
          () => 1,
          () => 0,
        ),
      },
    ],
  );
}
