import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { LEASE_TOKEN_TYP, type LeaseTokenClaims } from './lease-token-claims.js';

/** Options of {@link verifyLeaseToken}. */
export interface VerifyLeaseTokenOptions {
  /** The time to check `exp` against, in epoch milliseconds or as a Date; defaults to now. */
  readonly now?: number | Date;
  /** When given, the token must be for this feature. */
  readonly feature?: string;
  /** When given, the token must be for this client id (its `sub`): a token copied from another machine fails. */
  readonly clientId?: string;
}

// Only EdDSA over Ed25519 ("EdDSA", or its fully specified name "Ed25519" from RFC 9864). An allow-list
// shuts out "none" and the HS256-with-the-public-key confusion (RFC 8725 §2.1, §3.1).
const ALGORITHMS = ['EdDSA', 'Ed25519'];
const ISSUER = 'leasehold';
const STRING_CLAIMS = ['sub', 'jti', 'lic', 'feat'] as const;
const INTEGER_CLAIMS = ['fence', 'slot', 'grace', 'iat', 'exp'] as const;

/**
 * Verifies a lease token offline against the cluster's JWK Set (from `fetchJwks` or shipped with the
 * product) and returns its claims. Checks the EdDSA signature, the `typ` header, the issuer, `exp`, and
 * optionally the feature and client id.
 *
 * Throws `LeaseholdClientError` with `TOKEN_EXPIRED` (past `exp`), `TOKEN_KID_UNKNOWN` (signed by a key
 * the set does not hold: refresh the JWKS) or `TOKEN_INVALID` (anything else). Throws `TypeError` when the
 * arguments are not a string and a JWK Set.
 *
 * @example
 * ```ts
 * const jwks = await fetchJwks('https://license.example.com');
 * const claims = await verifyLeaseToken(lease.token, jwks, { feature: 'cad' });
 * console.log(`seat ${claims.slot} until ${new Date(claims.exp * 1000).toISOString()}`);
 * ```
 */
export async function verifyLeaseToken(
  token: string,
  jwks: JSONWebKeySet,
  options: VerifyLeaseTokenOptions = {},
): Promise<LeaseTokenClaims> {
  if (typeof token !== 'string') throw new TypeError('the lease token must be a string');
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw new TypeError('jwks must be a JWK Set: { keys: [...] }');
  }
  const kid = checkHeader(token);
  if (!jwks.keys.some((key) => key.kid === kid)) {
    throw new LeaseholdClientError(
      'TOKEN_KID_UNKNOWN',
      `the lease token is signed by key "${kid}", which the JWK Set does not hold; fetch the JWKS again`,
    );
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ALGORITHMS,
      typ: LEASE_TOKEN_TYP,
      issuer: ISSUER,
      requiredClaims: [...STRING_CLAIMS, ...INTEGER_CLAIMS],
      currentDate: currentDate(options.now),
    }));
  } catch (err) {
    throw joseFailure(err);
  }
  const claims = checkClaims(payload);
  if (options.feature !== undefined && claims.feat !== options.feature) {
    throw invalid(`the lease token is for feature "${claims.feat}", not "${options.feature}"`);
  }
  if (options.clientId !== undefined && claims.sub !== options.clientId) {
    throw invalid(`the lease token was issued to client "${claims.sub}", not "${options.clientId}"`);
  }
  return claims;
}

/** Checks the header before any key is looked up, and returns its `kid`. */
function checkHeader(token: string): string {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw invalid('the lease token is not a compact JWS', cause);
  }
  if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) {
    throw invalid(`the lease token's algorithm "${String(header.alg)}" is not allowed (EdDSA only)`);
  }
  // RFC 7515 §4.1.9: "application/" may be left out of a typ, so both spellings name the same type.
  const typ =
    typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (typ !== LEASE_TOKEN_TYP) {
    throw invalid(`the token's typ is "${String(header.typ)}", not "${LEASE_TOKEN_TYP}"`);
  }
  if (typeof header.kid !== 'string' || header.kid === '')
    throw invalid('the lease token names no key (kid)');
  return header.kid;
}

function checkClaims(payload: JWTPayload): LeaseTokenClaims {
  for (const name of STRING_CLAIMS) {
    if (typeof payload[name] !== 'string') throw invalid(`the lease token's "${name}" claim is not a string`);
  }
  for (const name of INTEGER_CLAIMS) {
    const value = payload[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw invalid(`the lease token's "${name}" claim is not a non-negative integer`);
    }
  }
  const p = payload as Record<string, unknown>;
  return Object.freeze({
    iss: ISSUER,
    sub: p.sub as string,
    jti: p.jti as string,
    lic: p.lic as string,
    feat: p.feat as string,
    fence: p.fence as number,
    slot: p.slot as number,
    grace: p.grace as number,
    iat: p.iat as number,
    exp: p.exp as number,
  });
}

function currentDate(now: number | Date | undefined): Date {
  if (now === undefined) return new Date();
  const date = new Date(now);
  if (Number.isNaN(date.getTime()))
    throw new TypeError('options.now must be epoch milliseconds or a valid Date');
  return date;
}

function joseFailure(err: unknown): LeaseholdClientError {
  if (err instanceof errors.JWTExpired) {
    return new LeaseholdClientError('TOKEN_EXPIRED', 'the lease token has expired; renew the lease', {
      cause: err,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return invalid(`the lease token does not verify: ${reason}`, err);
}

function invalid(message: string, cause?: unknown): LeaseholdClientError {
  return new LeaseholdClientError('TOKEN_INVALID', message, { cause });
}
