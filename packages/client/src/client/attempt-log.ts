import type { ClientCounter } from '../observability/counters.js';
import { publish } from '../observability/diagnostics.js';
import { errorFields, type Log } from '../observability/logger.js';
import type { AttemptReport } from '../transport/failover.js';
import type { HttpRequest } from '../transport/http-call.js';

/** Counts, logs and publishes (diagnostics_channel `request`) one attempt of an API call on one node. */
export function logAttempt(
  request: Omit<HttpRequest, 'token'>,
  report: AttemptReport,
  count: (counter: ClientCounter) => void,
  log: Log,
): void {
  count('requests');
  const { server, durationMs, error } = report;
  if (error?.retryable) {
    count('requestFailures');
    log('debug', { server, path: request.path, ...errorFields(error) }, 'attempt failed');
  }
  publish('request', () => ({
    server,
    method: request.method,
    path: request.path,
    durationMs,
    status: error?.status,
    error,
  }));
}
