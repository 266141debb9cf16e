import { FeatureName } from '@leasehold/domain';
import Type, { type Static } from 'typebox';

/** Schemas shared by routes; each is both the runtime check and the TypeScript type (STYLE.md rule 3). */

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    retryable: Type.Boolean(),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'RFC 9457 problem details with a Leasehold code',
  },
);

export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
export const Timestamp = Type.String({ format: 'date-time' });

export const ClientInfo = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256 }),
    host: Type.Optional(Type.String({ maxLength: 256 })),
    user: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const LeaseState = Type.Union([
  Type.Literal('active'),
  Type.Literal('expired'),
  Type.Literal('released'),
  Type.Literal('revoked'),
]);

export const LeaseView = Type.Object({
  id: Type.String(),
  license: Type.String(),
  feature: Type.String(),
  state: LeaseState,
  slot: Type.Integer(),
  fence: Type.Integer({ description: 'Grows with every grant; a higher fence for the same slot wins' }),
  client: ClientInfo,
  requestId: Type.String(),
  createdAt: Timestamp,
  renewedAt: Timestamp,
  expiresAt: Timestamp,
  reservedUntil: Timestamp,
  renewAfter: Timestamp,
  ttlSeconds: Type.Number({
    description: 'Seconds from renewedAt to expiresAt: schedule renewals by this, not by wall clocks',
  }),
  renewInSeconds: Type.Number({
    description: 'Seconds after this answer to renew at (a third of the lease)',
  }),
  graceSeconds: Type.Integer(),
  revokedAt: Type.Optional(Timestamp),
  endedAt: Type.Optional(Timestamp),
  grantedBy: Type.Optional(
    Type.String({ description: 'The node that granted the seat (absent on leases of older versions)' }),
  ),
});

export const LeaseWithToken = Type.Object({
  ...LeaseView.properties,
  epoch: Type.Integer({
    minimum: 1,
    description:
      'The fencing epoch the grant was signed at (also the token’s `epoch` claim); a promoted replica signs at a higher one',
  }),
  token: Type.String({
    description: 'Lease token: a JWT signed with the cluster key (see /.well-known/jwks.json)',
  }),
  chain: Type.Object(
    {
      license: Type.Optional(
        Type.String({
          description:
            'The vendor-signed license (JWS) the lease was granted under; the token binds it by id (lic), ' +
            'version (lver) and SHA-256 (lhash). Absent when the node cannot read it.',
        }),
      ),
      keyCertificate: Type.String({
        description:
          "The cluster identity key's certificate of the key that signed the token (a JWT): how an SDK " +
          'checks that a token comes from a cluster a bound license names',
      }),
    },
    { description: 'What an SDK holding the vendor keys checks a grant against (docs/security.md)' },
  ),
});

export const Entitlement = Type.Object({
  feature: Type.String(),
  seats: Type.Integer(),
  inUse: Type.Integer(),
});

export const LicenseView = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  issuer: Type.Optional(Type.String()),
  customer: Type.String(),
  product: Type.String(),
  state: Type.Union([
    Type.Literal('active'),
    Type.Literal('expired'),
    Type.Literal('not-yet-valid'),
    Type.Literal('revoked'),
    Type.Literal('refused'),
  ]),
  refusal: Type.Optional(
    Type.Object({
      code: Type.String(),
      fields: Type.Array(Type.String()),
      detail: Type.String(),
    }),
  ),
  entitlements: Type.Array(Entitlement),
  issuedAt: Timestamp,
  notBefore: Timestamp,
  expiresAt: Timestamp,
  lease: Type.Object({
    ttlSeconds: Type.Integer(),
    graceSeconds: Type.Integer(),
    policy: Type.Union([Type.Literal('strict'), Type.Literal('overdraft')]),
  }),
  signedBy: Type.String(),
  installedAt: Timestamp,
  revokedAt: Type.Optional(Timestamp),
});

export const CheckoutBody = Type.Object(
  {
    feature: FeatureName,
    license: Type.Optional(Id),
    client: ClientInfo,
    requestId: Type.String({
      minLength: 8,
      maxLength: 128,
      pattern: '^[A-Za-z0-9._:-]+$',
      description: 'Idempotency key chosen by the client (a UUID); a retry with it returns the same lease',
    }),
  },
  { additionalProperties: false },
);
export type CheckoutBody = Static<typeof CheckoutBody>;

export const TokenView = Type.Object({
  id: Type.String(),
  scope: Type.Union([
    Type.Literal('admin'),
    Type.Literal('operator'),
    Type.Literal('client'),
    Type.Literal('replica'),
  ]),
  license: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  createdAt: Timestamp,
  revokedAt: Type.Optional(Timestamp),
});

export const IdParams = Type.Object({ id: Id });

/** Error responses every route may give; listed in OpenAPI by status class. */
export const problemResponses = {
  '4xx': { $ref: 'Problem#' },
  '5xx': { $ref: 'Problem#' },
} as const;
