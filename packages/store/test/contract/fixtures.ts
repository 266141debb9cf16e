import { makeVendor } from '@leasehold/devtools';
import {
  type GracePolicy,
  type License,
  type LicenseVerificationKeys,
  verifyStoredLicense,
} from '@leasehold/domain';

export const T0 = Date.UTC(2026, 0, 1);
export const DAY = 86_400_000;

/** The vendor of the contract suite: stores re-verify every license they load (issue 11). */
export const vendor = await makeVendor(T0);
/** The trust root every store of the suite is opened with. */
export const LICENSE_KEYS: LicenseVerificationKeys = {
  vendorKeys: new Map([[vendor.publicKey.kid, vendor.publicKey]]),
};

let counter = 0;

/**
 * A verified license, signed by the suite's vendor and verified as a node would: `overrides` name
 * License fields (times in whole seconds of milliseconds). Every call signs a distinct file (a counter
 * claim), so two calls with the same fields are two different files, as two issues by a vendor would be.
 */
export async function license(
  overrides: Partial<Omit<License, 'entitlements' | 'raw' | 'signedBy'>> & {
    seats?: Record<string, number>;
  } = {},
): Promise<License> {
  const policy = overrides.lease ?? { ttlMs: 60_000, graceMs: 0, policy: 'strict' as GracePolicy };
  const seconds = (ms: number) => Math.floor(ms / 1000);
  const raw = await vendor.issue({
    lid: overrides.id ?? 'lic-1',
    ver: overrides.version ?? 1,
    ...(overrides.issuer === undefined ? { iss: 'vendor' } : { iss: overrides.issuer }),
    customer: overrides.customer ?? 'Acme',
    product: overrides.product ?? 'cad',
    features: Object.fromEntries(
      Object.entries(overrides.seats ?? { solver: 3 }).map(([feature, seats]) => [feature, { seats }]),
    ),
    iat: seconds(overrides.issuedAt ?? T0 - DAY),
    nbf: seconds(overrides.notBefore ?? T0 - DAY),
    exp: seconds(overrides.expiresAt ?? T0 + 365 * DAY),
    lease: { ttl: seconds(policy.ttlMs), grace: seconds(policy.graceMs), policy: policy.policy },
    fixture: ++counter,
  } as Parameters<typeof vendor.issue>[0]);
  return verifyStoredLicense(raw, LICENSE_KEYS);
}

export const client = (id: string) => ({ id, host: `${id}.example`, user: `user-${id}` });
