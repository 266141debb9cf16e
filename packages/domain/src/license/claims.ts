import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * The payload of a license file: a JWT (RFC 7519) signed by the vendor. Standard claims carry the
 * validity window; Leasehold claims carry the entitlements.
 *
 * - `lid` / `ver`: the license id and its version. A vendor re-issues a license (more seats, a later
 *   expiry) by signing the same `lid` with a higher `ver`; installing a lower `ver` is a replay.
 * - `features`: floating seat counts per feature.
 * - `lease`: how seats are leased. `ttl` and `grace` are whole seconds (etcd lease TTLs are whole
 *   seconds too). `policy` decides what grace means — see docs/leases.md.
 * - `clusters` (optional): the cluster ids (RFC 7638 thumbprints of cluster identity keys, printed by
 *   `leasehold cluster id`) the license is bound to, like a FlexNet server hostid. A node whose id is not
 *   listed refuses to install it, and the SDK refuses tokens from such a cluster (docs/security.md).
 */
export const FeatureName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' });

/** A cluster id: the RFC 7638 SHA-256 thumbprint (base64url, 43 characters) of a cluster identity key. */
export const ClusterId = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });

export const LeasePolicyClaims = Type.Object(
  {
    ttl: Type.Integer({ minimum: 5, maximum: 86_400 }),
    grace: Type.Integer({ minimum: 0, maximum: 30 * 86_400 }),
    policy: Type.Union([Type.Literal('strict'), Type.Literal('overdraft')]),
  },
  { additionalProperties: false },
);

export const LicenseClaims = Type.Object(
  {
    lid: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
    ver: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    iss: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    customer: Type.String({ minLength: 1, maxLength: 256 }),
    product: Type.String({ minLength: 1, maxLength: 256 }),
    features: Type.Record(
      FeatureName,
      Type.Object(
        { seats: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
        { additionalProperties: false },
      ),
      { minProperties: 1, maxProperties: 1000 },
    ),
    iat: Type.Integer({ minimum: 0 }),
    nbf: Type.Integer({ minimum: 0 }),
    exp: Type.Integer({ minimum: 0 }),
    lease: LeasePolicyClaims,
    clusters: Type.Optional(Type.Array(ClusterId, { minItems: 1, maxItems: 64, uniqueItems: true })),
  },
  // Unknown claims are allowed so that a newer vendor CLI can add optional ones.
  { additionalProperties: true },
);

export type LicenseClaims = Static<typeof LicenseClaims>;
export type LeasePolicyClaims = Static<typeof LeasePolicyClaims>;

export const licenseClaimsValidator = Compile(LicenseClaims);

/** The default lease policy a vendor CLI writes when none is given. */
export const DEFAULT_LEASE_POLICY: LeasePolicyClaims = Object.freeze({ ttl: 60, grace: 0, policy: 'strict' });
