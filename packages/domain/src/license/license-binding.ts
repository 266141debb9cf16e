import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { LeaseholdError } from '../errors/leasehold-error.js';

/**
 * What ties a lease token to the vendor-signed license it was granted under (issue 11): the license id,
 * its version and the hash of its JWS, signed into every lease token as `lic`, `lver` and `lhash`, so an
 * SDK holding the vendor's public keys can check that a grant chains to a license the vendor signed, and
 * to exactly that one.
 */
export interface LicenseBinding {
  readonly id: string;
  readonly version: number;
  /** base64url of the SHA-256 of the license JWS (its compact serialization, as ASCII). */
  readonly hash: string;
  /** The cluster ids the license is bound to; undefined when it is not bound. */
  readonly clusters: readonly string[] | undefined;
  /** The features it grants and when it expires (epoch ms), as signed: a cache of bindings checks them. */
  readonly features: readonly string[];
  readonly expiresAt: number;
  /** The signed license itself (JWS compact serialization): what the SDK verifies. */
  readonly jws: string;
}

/** base64url(SHA-256(jws)): the `lhash` claim of lease tokens. */
export function licenseHash(jws: string): string {
  return createHash('sha256').update(jws, 'ascii').digest('base64url');
}

/**
 * Reads the binding of a license JWS that was verified already (at install, or by the caller). It does
 * not check the signature again: never call it on a JWS nobody verified.
 */
export function licenseBindingOf(jws: string): LicenseBinding {
  let payload: ReturnType<typeof decodeJwt>;
  try {
    payload = decodeJwt(jws);
  } catch (cause) {
    throw new LeaseholdError('LICENSE_MALFORMED', 'the license payload does not decode', undefined, {
      cause,
    });
  }
  const { lid, ver, clusters, features, exp } = payload as Record<string, unknown>;
  if (
    typeof lid !== 'string' ||
    typeof ver !== 'number' ||
    typeof exp !== 'number' ||
    typeof features !== 'object' ||
    features === null
  ) {
    throw new LeaseholdError('LICENSE_MALFORMED', 'the license has no "lid", "ver", "exp" or "features"');
  }
  const bound =
    Array.isArray(clusters) && clusters.every((c) => typeof c === 'string')
      ? Object.freeze([...(clusters as string[])])
      : undefined;
  return Object.freeze({
    id: lid,
    version: ver,
    hash: licenseHash(jws),
    clusters: bound,
    features: Object.freeze(Object.keys(features)),
    expiresAt: exp * 1000,
    jws,
  });
}

/**
 * Refuses a license bound to clusters that do not include `clusterId` (LICENSE_CLUSTER_MISMATCH). An
 * unbound license fits every cluster: binding is the vendor's choice.
 */
export function assertLicenseFitsCluster(binding: LicenseBinding, clusterId: string): void {
  if (binding.clusters === undefined || binding.clusters.includes(clusterId)) return;
  throw new LeaseholdError(
    'LICENSE_CLUSTER_MISMATCH',
    `license "${binding.id}" is bound to cluster ${binding.clusters.join(', ')}; this cluster is ${clusterId} ` +
      '(send the vendor the output of "leasehold cluster id" for a license bound to it)',
    { clusterId, boundTo: binding.clusters },
  );
}
