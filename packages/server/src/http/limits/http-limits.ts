import { clientErrorHandler } from './client-errors.js';

/**
 * The node's request limits, all per node (docs/security.md "Limits" says what that means for a cluster).
 * Rates are per minute; 0 turns a rate limit off.
 */
export interface HttpLimits {
  readonly leaseRateLimitPerMinute: number;
  readonly authFailureLimitPerMinute: number;
  readonly bodyLimitBytes: number;
  readonly maxHeaderBytes: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  // A client token is shared by every installation of one license; renewals come at a third of the TTL.
  // 12,000 a minute covers 4,000 seats renewing every 20 s (TTL 60 s) through one node, with room for
  // their checkouts.
  leaseRateLimitPerMinute: 12_000,
  // Tokens are 256-bit random: the limit is about log noise and CPU, not about guessing.
  authFailureLimitPerMinute: 30,
  bodyLimitBytes: 128 * 1024,
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 30_000,
  // Slowloris: headers trickled in byte by byte hold a socket; Node cuts them off after this.
  headersTimeoutMs: 10_000,
  // Below typical load-balancer idle timeouts (60 s) would cause resets; 5 s is Node's own default.
  keepAliveTimeoutMs: 5_000,
});

/** The Fastify server options that carry these limits (Node's http server takes the header ones). */
export function serverLimitOptions(limits: HttpLimits) {
  return {
    clientErrorHandler,
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node requires headersTimeout <= requestTimeout.
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      // Node enforces both timeouts only when it sweeps its connections, every 30 s by default: a 10 s
      // headers timeout would really be up to 40 s.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
  };
}
