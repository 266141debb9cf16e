import { issueLicense, type LicenseClaims, type PrivateKeyInfo } from '@leasehold/domain';

/** One year in seconds: how long a test license is valid by default. */
const YEAR_S = 365 * 86_400;

/**
 * The claims of the license every test and bench starts from: `lic-1` of customer Acme, 3 `solver` seats,
 * 60 s leases without grace, valid from a minute before `now` for a year. `overrides` replace whole claims.
 */
export function testLicenseClaims(now: number, overrides: Partial<LicenseClaims> = {}): LicenseClaims {
  const seconds = Math.floor(now / 1000);
  return {
    lid: 'lic-1',
    ver: 1,
    customer: 'Acme',
    product: 'cad',
    features: { solver: { seats: 3 } },
    iat: seconds - 60,
    nbf: seconds - 60,
    exp: seconds + YEAR_S,
    lease: { ttl: 60, grace: 0, policy: 'strict' },
    ...overrides,
  };
}

/**
 * A signed license file (compact JWS) with {@link testLicenseClaims}, signed by `vendorKey`.
 *
 * @example
 * ```ts
 * const file = await issueTestLicense(vendor.key, { lid: 'lic-2', features: { cad: { seats: 5 } } });
 * ```
 */
export function issueTestLicense(
  vendorKey: PrivateKeyInfo,
  overrides: Partial<LicenseClaims> = {},
  now: number = Date.now(),
): Promise<string> {
  return issueLicense(testLicenseClaims(now, overrides), vendorKey);
}
