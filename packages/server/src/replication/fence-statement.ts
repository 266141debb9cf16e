import { LeaseholdError, type PrivateKeyInfo } from '@leasehold/domain';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify, SignJWT } from 'jose';

/** The JOSE `typ` of a fence statement: no lease token or license is ever taken for one (RFC 8725 §3.11). */
export const FENCE_STATEMENT_TYP = 'fence+jwt';

/** How long a statement is accepted after it was signed (the promoted node signs a fresh one per try). */
const STATEMENT_LIFETIME_S = 3600;

export interface FenceClaims {
  /** The promoted primary's epoch. */
  readonly epoch: number;
  /** Its URL: where the fenced primary sends writers (PRIMARY_FENCED's `primary`). */
  readonly primary: string;
}

/**
 * "A primary at epoch E, reachable at URL, has superseded you", signed with the cluster's lease-token
 * signing key (docs/replication.md, "Promotion"). The keys are replicated, so the promoted replica holds
 * them and the old primary verifies with its own copy: no forgeable header, no new key to distribute.
 * A replayed statement only says again what happened, and fencing is idempotent.
 */
export function signFenceStatement(
  claims: FenceClaims,
  signer: PrivateKeyInfo,
  now: number,
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ epoch: claims.epoch, primary: claims.primary })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: FENCE_STATEMENT_TYP })
    .setIssuer('leasehold')
    .setIssuedAt(iat)
    .setExpirationTime(iat + STATEMENT_LIFETIME_S)
    .sign(signer.key);
}

/** The statement's claims, or FORBIDDEN when this cluster's keys did not sign it (or it is malformed). */
export async function verifyFenceStatement(
  statement: string,
  jwks: JSONWebKeySet,
  now: number,
): Promise<FenceClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(statement, createLocalJWKSet(jwks), {
      typ: FENCE_STATEMENT_TYP,
      issuer: 'leasehold',
      algorithms: ['EdDSA'],
      currentDate: new Date(now),
      // The two sites' clocks may disagree; the statement's age is not what makes it safe.
      clockTolerance: STATEMENT_LIFETIME_S,
    }));
  } catch (err) {
    throw new LeaseholdError(
      'FORBIDDEN',
      `the fence statement is not signed by this cluster's keys: ${(err as Error).message}`,
    );
  }
  const { epoch, primary } = payload;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 2 || typeof primary !== 'string') {
    throw new LeaseholdError('FORBIDDEN', 'the fence statement has no valid epoch and primary');
  }
  return { epoch, primary };
}
