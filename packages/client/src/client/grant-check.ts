import type { JSONWebKeySet } from 'jose';
import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { type Anchor, entitlementOf } from '../lease/entitlement.js';
import type { Granted } from '../lease/lease-context.js';
import { parseLeaseGrant } from '../lease/parse-lease.js';
import type { ClientCounter } from '../observability/counters.js';
import type { TrustedTime } from '../time/trusted-time.js';
import { JWKS_PATH, parseJwks } from '../token/fetch-jwks.js';
import type { JwksCache } from '../token/jwks-cache.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { type HttpAnswer, httpCall } from '../transport/http-call.js';
import { checkChain } from '../trust/check-chain.js';
import type { EpochWatermark } from './epoch-watermark.js';
import { leasePath } from './lease-path.js';
import type { ResolvedOptions } from './options.js';

/** What checking a grant needs from its client. */
export interface GrantCheckDeps {
  readonly options: ResolvedOptions;
  readonly jwks: JwksCache;
  readonly trusted: TrustedTime;
  /** The highest fencing epoch seen; grants below it are refused (EPOCH_STALE, retryable). */
  readonly epochs: EpochWatermark;
  count(counter: ClientCounter): void;
}

/**
 * Reads a grant and verifies its token inside the attempt, so that a node sending a bad token is failed
 * over like any broken answer (a checkout's request id makes the next node return the same lease). With
 * vendor keys, the grant must also chain to a license the vendor signed (trust/check-chain.ts).
 */
export async function checkGrant(
  deps: GrantCheckDeps,
  operation: 'checkout' | 'renew',
  answer: HttpAnswer,
  server: string,
  sent: Anchor,
  signal: AbortSignal | undefined,
): Promise<Granted> {
  const grant = parseLeaseGrant(answer.body, server);
  // Every answer raises the wall-clock high-water mark (for `verify` and the state store).
  deps.trusted.now();
  let claims: LeaseTokenClaims;
  try {
    // Judged by the raw wall clock, with the skew tolerance: this only refuses stale (replayed) answers.
    // The high-water mark is not used here: a clock stepped forward by mistake and back would otherwise
    // lock the client out until real time caught up. Deadlines do not depend on it (monotonic anchors).
    claims = await deps.jwks.verifyFrom(server, () => downloadJwks(deps, server, signal), grant.token, {
      now: deps.options.clock.now(),
      clockToleranceMs: deps.options.maxClockSkewMs,
      clientId: deps.options.client.id,
    });
  } catch (err) {
    if (!isLeaseholdClientError(err) || !err.code.startsWith('TOKEN_')) throw err;
    deps.count('tokensRejected');
    const hint = err.code === 'TOKEN_EXPIRED' ? ' (is this machine’s clock far ahead of the cluster’s?)' : '';
    throw new LeaseholdClientError(
      err.code,
      `${server} sent a lease token that fails verification: ${err.message}${hint}`,
      {
        server,
        retryable: true, // another node signs with the cluster key; see CLIENT_ERROR_CODES
        cause: err,
      },
    );
  }
  // The JSON view is not signed: it must describe the lease the token names.
  const mismatch = (
    [
      ['jti', claims.jti, grant.id],
      ['feat', claims.feat, grant.feature],
      ['lic', claims.lic, grant.license],
      ['fence', claims.fence, grant.fence],
      ['slot', claims.slot, grant.slot],
    ] as const
  ).find(([, signed, shown]) => signed !== shown);
  if (mismatch) {
    deps.count('tokensRejected');
    throw new LeaseholdClientError(
      'TOKEN_INVALID',
      `${server} sent a lease whose token has another ${mismatch[0]}`,
      {
        server,
        retryable: true,
      },
    );
  }
  deps.count('tokensVerified');
  // Before anything is adopted: a lower epoch's grant (an old, superseded primary) extends nothing.
  deps.epochs.observe(claims.epoch, server);
  const { trust } = deps.options;
  if (trust) {
    // Only a grant that chains to a vendor-signed license is adopted: no deadline, and so no offline
    // grace, ever comes from one that does not (issue 11).
    try {
      await checkChain(trust, grant, claims, {
        server,
        now: deps.options.clock.now(),
        toleranceMs: deps.options.maxClockSkewMs,
        clientId: deps.options.client.id,
      });
    } catch (err) {
      if (isLeaseholdClientError(err, 'LICENSE_UNTRUSTED')) {
        deps.count('grantsUntrusted');
        // The seat is of no use to this client: give it back rather than hold it to its expiry. Best
        // effort, not awaited; a node whose grants do not chain may not honour it, and nothing depends on it.
        void httpCall(
          server,
          {
            method: 'DELETE',
            path: leasePath(grant.id, deps.options.client.id),
            token: deps.options.token,
          },
          { fetch: deps.options.fetch, timeoutMs: deps.options.timeoutMs, clock: deps.options.clock },
        ).catch(() => undefined);
      }
      throw err;
    }
  }
  // A renewal is always granted at its own send time; a checkout only when new (201), not replayed (200).
  const fresh = operation === 'renew' || answer.status === 201;
  const entitlement = entitlementOf(grant, claims, sent, fresh, deps.options.maxClockSkewMs);
  return { grant, claims, entitlement, server };
}

async function downloadJwks(
  deps: GrantCheckDeps,
  server: string,
  signal: AbortSignal | undefined,
): Promise<JSONWebKeySet> {
  const { fetch, timeoutMs, clock } = deps.options;
  const answer = await httpCall(
    server,
    { method: 'GET', path: JWKS_PATH },
    { fetch, timeoutMs, clock, signal },
  );
  deps.count('jwksFetches');
  return parseJwks(answer.body, server);
}
