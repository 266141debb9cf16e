import { LeaseholdError } from '@leasehold/domain';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';

/**
 * `?client=`: the client id the caller acts as on one lease. Only the client a lease was granted to may
 * renew, release or read it (issue 11: one client token's holders renewed each other's leases, so one seat
 * served several machines); admins and operators may leave it out.
 */
export const ActingClient = Type.Object(
  {
    client: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'The client id the lease was granted to' }),
    ),
  },
  { additionalProperties: false },
);

/** The client id a request acts as: required of client tokens, whose leases belong to their client. */
export function actingClient(request: FastifyRequest, client: string | undefined): string | undefined {
  if (client === undefined && request.principal?.scope === 'client') {
    throw new LeaseholdError(
      'LEASE_NOT_OWNED',
      'a client token names the client id the lease was granted to (?client=<id>)',
    );
  }
  return client;
}
