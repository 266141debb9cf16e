import { decodeProtectedHeader, type JSONWebKeySet, type JWK } from 'jose';
import { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { ALGORITHMS, defaultVerifier, type JwsVerifier } from './jws.js';
import { LEASE_TOKEN_TYP, type LeaseTokenClaims } from './lease-token-claims.js';

/** Options of {@link verifyLeaseToken}. */
export interface VerifyLeaseTokenOptions {
  /** The time to check `exp` against, in epoch milliseconds or as a Date; defaults to now. */
  readonly now?: number | Date;
  /** When given, the token must be for this feature. */
  readonly feature?: string;
  /** When given, the token must be for this client id (its `sub`): a token copied from another machine fails. */
  readonly clientId?: string;
  /**
   * Accept the token until `exp` plus its signed `grace` (the offline grace period the license sets),
   * instead of until `exp`. For an application deciding, while no node answers, whether to stay unlocked.
   */
  readonly withGrace?: boolean;
  /** Allowed difference between this machine's clock and the cluster's, in milliseconds. Default 0. */
  readonly clockToleranceMs?: number;
}

// An allow-list of algorithms (ALGORITHMS: EdDSA over Ed25519) shuts out "none" and the
// HS256-with-the-public-key confusion (RFC 8725 §2.1, §3.1).
const ISSUER = 'leasehold';
const STRING_CLAIMS = ['sub', 'jti', 'lic', 'feat'] as const;
const INTEGER_CLAIMS = ['fence', 'slot', 'grace', 'iat', 'exp'] as const;

/**
 * Signature checks already passed, per key set: an Ed25519 verification costs about 200 µs on the 2-core
 * reference VM (`openssl speed ed25519`: 4,900 verifications/s), and an application that checks the same
 * token on every use of a feature would spend most of that again and again. Only the signature and the
 * claims' shape are remembered, keyed by the exact token text and the key's material; the time checks run
 * on every call. Bounded: the oldest entry goes first.
 */
const MEMO_LIMIT = 1024;
interface Verified {
  readonly key: string;
  readonly claims: LeaseTokenClaims;
}
const memos = new WeakMap<JwsVerifier, WeakMap<JSONWebKeySet, Map<string, Verified>>>();

/**
 * Verifies a lease token offline against the cluster's JWK Set (from `fetchJwks` or shipped with the
 * product) and returns its claims. Checks the EdDSA signature, the `typ` header, the issuer, `exp` (or
 * `exp` plus the signed grace with `withGrace`), and optionally the feature and client id.
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
export function verifyLeaseToken(
  token: string,
  jwks: JSONWebKeySet,
  options: VerifyLeaseTokenOptions = {},
): Promise<LeaseTokenClaims> {
  return verifyLeaseTokenWith(defaultVerifier, token, jwks, options);
}

/** {@link verifyLeaseToken} with a chosen signature verifier: the tests run both. */
export async function verifyLeaseTokenWith(
  verifier: JwsVerifier,
  token: string,
  jwks: JSONWebKeySet,
  options: VerifyLeaseTokenOptions = {},
): Promise<LeaseTokenClaims> {
  if (typeof token !== 'string') throw new TypeError('the lease token must be a string');
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw new TypeError('jwks must be a JWK Set: { keys: [...] }');
  }
  const now = currentTime(options.now);
  const tolerance = options.clockToleranceMs ?? 0;
  if (!Number.isSafeInteger(tolerance) || tolerance < 0) {
    throw new TypeError('options.clockToleranceMs must be a non-negative integer');
  }

  const claims = await verifySignature(verifier, token, jwks);
  const end = (claims.exp + (options.withGrace ? claims.grace : 0)) * 1000 + tolerance;
  if (now >= end) {
    throw new LeaseholdClientError(
      'TOKEN_EXPIRED',
      options.withGrace
        ? 'the lease token and its grace period have expired; check a seat out again'
        : 'the lease token has expired; renew the lease',
    );
  }
  if (options.feature !== undefined && claims.feat !== options.feature) {
    throw invalid(`the lease token is for feature "${claims.feat}", not "${options.feature}"`);
  }
  if (options.clientId !== undefined && claims.sub !== options.clientId) {
    throw invalid(`the lease token was issued to client "${claims.sub}", not "${options.clientId}"`);
  }
  return claims;
}

/** The signature and the claims' shape: everything but time. Memoized per key set (see above). */
async function verifySignature(
  verifier: JwsVerifier,
  token: string,
  jwks: JSONWebKeySet,
): Promise<LeaseTokenClaims> {
  const kid = checkHeader(token);
  const candidates = jwks.keys.filter((key) => key.kid === kid);
  if (candidates.length === 0) {
    throw new LeaseholdClientError(
      'TOKEN_KID_UNKNOWN',
      `the lease token is signed by key "${kid}", which the JWK Set does not hold; fetch the JWKS again`,
    );
  }
  let bySet = memos.get(verifier);
  if (!bySet) {
    bySet = new WeakMap();
    memos.set(verifier, bySet);
  }
  let memo = bySet.get(jwks);
  const keyMaterial = candidates.map(keyFingerprint).join(' ');
  const hit = memo?.get(token);
  // The set may have been edited in place since: the key under this kid must still be the same key.
  if (hit && hit.key === keyMaterial) return hit.claims;

  const payload = await verifier(token, jwks, kid);
  const claims = checkClaims(payload);

  if (!memo) {
    memo = new Map();
    bySet.set(jwks, memo);
  }
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
  memo.set(token, { key: keyMaterial, claims });
  return claims;
}

function keyFingerprint(jwk: JWK): string {
  return `${jwk.kty}:${jwk.crv}:${jwk.x}:${jwk.alg}:${jwk.use}`;
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
  // No extension is understood, so none may be critical (RFC 7515 §4.1.11); "b64" (RFC 7797) would
  // change what the signature covers.
  if (header.crit !== undefined || header.b64 !== undefined) {
    throw invalid('the lease token uses a JWS extension ("crit" or "b64") that is not supported');
  }
  return header.kid;
}

function checkClaims(payload: unknown): LeaseTokenClaims {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('the lease token payload is not a JSON object');
  }
  const p = payload as Record<string, unknown>;
  if (p.iss !== ISSUER) throw invalid(`the lease token's issuer is "${String(p.iss)}", not "${ISSUER}"`);
  for (const name of STRING_CLAIMS) {
    if (typeof p[name] !== 'string') throw invalid(`the lease token's "${name}" claim is not a string`);
  }
  for (const name of INTEGER_CLAIMS) {
    const value = p[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw invalid(`the lease token's "${name}" claim is not a non-negative integer`);
    }
  }
  if (p.lver !== undefined && (typeof p.lver !== 'number' || !Number.isSafeInteger(p.lver) || p.lver < 1)) {
    throw invalid('the lease token\'s "lver" claim is not a positive integer');
  }
  if (
    p.epoch !== undefined &&
    (typeof p.epoch !== 'number' || !Number.isSafeInteger(p.epoch) || p.epoch < 1)
  ) {
    throw invalid('the lease token\'s "epoch" claim is not a positive integer');
  }
  if (p.lhash !== undefined && typeof p.lhash !== 'string')
    throw invalid('the lease token\'s "lhash" claim is not a string');
  return Object.freeze({
    iss: ISSUER,
    sub: p.sub as string,
    jti: p.jti as string,
    lic: p.lic as string,
    feat: p.feat as string,
    ...(p.lver === undefined ? {} : { lver: p.lver as number }),
    ...(p.lhash === undefined ? {} : { lhash: p.lhash as string }),
    fence: p.fence as number,
    slot: p.slot as number,
    grace: p.grace as number,
    ...(p.epoch === undefined ? {} : { epoch: p.epoch as number }),
    iat: p.iat as number,
    exp: p.exp as number,
  });
}

function currentTime(now: number | Date | undefined): number {
  if (now === undefined) return Date.now();
  const ms = new Date(now).getTime();
  if (Number.isNaN(ms)) throw new TypeError('options.now must be epoch milliseconds or a valid Date');
  return ms;
}

function invalid(message: string, cause?: unknown): LeaseholdClientError {
  return new LeaseholdClientError('TOKEN_INVALID', message, { cause });
}
