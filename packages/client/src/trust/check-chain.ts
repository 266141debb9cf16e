import { isLeaseholdClientError, LeaseholdClientError } from '../errors/leasehold-client-error.js';
import type { LeaseGrant } from '../lease/lease-info.js';
import type { LeaseTokenClaims } from '../token/lease-token-claims.js';
import { verifyLeaseToken } from '../token/verify-lease-token.js';
import { type TrustAnchor, Untrusted } from './trust-anchor.js';

/** What a grant's chain is checked with, besides the anchor. */
export interface ChainCheck {
  readonly server: string;
  /** This machine's wall clock, and how far the cluster's may be from it. */
  readonly now: number;
  readonly toleranceMs: number;
  readonly clientId: string;
}

/**
 * Checks that a grant chains to a license the vendor signed (issue 11, docs/security.md "Trust chain"),
 * or throws LICENSE_UNTRUSTED (not retryable: a cluster whose grants do not chain is not one to try
 * again). The token's signature was checked already; here:
 *
 * 1. the grant carries a license that verifies under the vendor keys and is within its dates;
 * 2. the token is bound to exactly that license: `lic`, `lver` and `lhash` (SHA-256 of the JWS);
 * 3. the license grants the token's feature, and is for the product the client was built for;
 * 4. a license bound to clusters names the cluster whose identity key certified the token's signing key,
 *    and the token verifies under that certified key.
 */
export async function checkChain(
  anchor: TrustAnchor,
  grant: LeaseGrant,
  claims: LeaseTokenClaims,
  check: ChainCheck,
): Promise<void> {
  const untrusted = (why: string, cause?: unknown) =>
    new LeaseholdClientError(
      'LICENSE_UNTRUSTED',
      `${check.server} granted "${claims.feat}" under a license that does not chain to the vendor's keys: ${why}`,
      { server: check.server, retryable: false, cause },
    );
  const jws = grant.chain?.license;
  if (jws === undefined) {
    throw untrusted(
      'the answer carries no vendor-signed license (a node older than this SDK, or one that cannot read its license)',
    );
  }
  let license: Awaited<ReturnType<TrustAnchor['license']>>;
  try {
    license = await anchor.license(jws, check.now, check.toleranceMs);
  } catch (err) {
    if (err instanceof Untrusted) throw untrusted(err.message, err);
    throw err;
  }
  if (claims.lic !== license.id || claims.lver !== license.version || claims.lhash !== license.hash) {
    throw untrusted(
      `the lease token is bound to license "${claims.lic}" version ${String(claims.lver)} (hash ${String(claims.lhash)}), ` +
        `not to the license sent with it ("${license.id}" version ${license.version})`,
    );
  }
  if (!license.features.includes(claims.feat)) {
    throw untrusted(`license "${license.id}" does not grant feature "${claims.feat}"`);
  }
  if (anchor.product !== undefined && license.product !== anchor.product) {
    throw untrusted(`license "${license.id}" is for product "${license.product}", not "${anchor.product}"`);
  }
  if (license.clusters === undefined) return;

  const certificate = grant.chain?.keyCertificate;
  if (certificate === undefined) {
    throw untrusted(
      `license "${license.id}" is bound to a cluster, and the answer carries no signing-key certificate`,
    );
  }
  let certified: Awaited<ReturnType<TrustAnchor['certificate']>>;
  try {
    certified = await anchor.certificate(certificate);
  } catch (err) {
    if (err instanceof Untrusted) throw untrusted(err.message, err);
    throw err;
  }
  if (!license.clusters.includes(certified.clusterId)) {
    throw untrusted(
      `license "${license.id}" is bound to cluster ${license.clusters.join(', ')}; this token comes from cluster ${certified.clusterId}`,
    );
  }
  try {
    // The certified key itself, not the JWK Set the node publishes: a set can name any key under any kid.
    await verifyLeaseToken(grant.token, certified.jwks, {
      now: check.now,
      clockToleranceMs: check.toleranceMs,
      clientId: check.clientId,
    });
  } catch (err) {
    if (!isLeaseholdClientError(err)) throw err;
    throw untrusted(`the lease token is not signed by the key cluster ${certified.clusterId} certified`, err);
  }
}
