import type { Lease, LeaseEvents } from '../lease/lease.js';
import type { ClientCounter } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import { errorFields, type Log } from '../observability/logger.js';

/** Counts, logs and publishes (diagnostics_channel `failover`) one event of a lease the client holds. */
export function logLeaseEvent<K extends keyof LeaseEvents>(
  event: K,
  payload: LeaseEvents[K],
  count: (counter: ClientCounter) => void,
  log: Log,
): void {
  const lease = (payload as { lease?: Lease }).lease;
  switch (event) {
    case 'failover': {
      const { from, to, operation, error } = payload as LeaseEvents['failover'];
      count('failovers');
      publish('failover', () => ({ from, to, operation, error, lease: lease?.id }));
      log('warn', { from, to, operation, lease: lease?.id, ...errorFields(error) }, 'failed over');
      break;
    }
    case 'degraded':
      count('leasesDegraded');
      log(
        'warn',
        { lease: lease?.id, ...errorFields((payload as LeaseEvents['degraded']).error) },
        'lease degraded: no node answers',
      );
      break;
    case 'lost': {
      const { reason, final } = payload as LeaseEvents['lost'];
      count('leasesLost');
      log('warn', { lease: lease?.id, reason, final }, 'lease lost');
      break;
    }
    case 'restored':
      count('leasesRestored');
      log('info', { lease: lease?.id }, 'lease restored');
      break;
    case 'replaced': {
      const { previousId } = payload as LeaseEvents['replaced'];
      count('leasesReplaced');
      log('info', { lease: lease?.id, previousId }, 'lease replaced by a new checkout');
      break;
    }
  }
}
