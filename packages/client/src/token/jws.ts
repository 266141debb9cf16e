import type * as NodeBuffer from 'node:buffer';
import type * as NodeCrypto from 'node:crypto';
import {
  compactVerify,
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { LeaseholdClientError } from '../errors/leasehold-client-error.js';

/**
 * Checks the signature of a compact JWS (RFC 7515) whose header has already been checked (EdDSA, typed,
 * with a `kid`, no `crit`) against the keys of `jwks` that carry that `kid`, and returns its decoded
 * payload. Throws `TOKEN_INVALID`.
 */
export type JwsVerifier = (token: string, jwks: JSONWebKeySet, kid: string) => Promise<unknown>;

// Only EdDSA over Ed25519 ("EdDSA", or its fully specified name "Ed25519" from RFC 9864).
export const ALGORITHMS: readonly string[] = ['EdDSA', 'Ed25519'];

/**
 * Where the runtime has `node:crypto` (Node, Deno, Bun): Ed25519 through OpenSSL, synchronously. It is
 * 1.5x faster than WebCrypto here (5,900 against 3,900 verifications/s on the 2-core reference VM: no
 * thread-pool round trip), and a renewal then completes within one turn of the event loop, which keeps
 * fake-clock tests deterministic. The checks are jose's, written out for the one algorithm we accept; the
 * same rejection suite runs against both verifiers (`test/jws-verifiers.test.ts`).
 */
export function nodeVerifier(crypto: typeof NodeCrypto, buffer: typeof NodeBuffer.Buffer): JwsVerifier {
  const keys = new Map<string, NodeCrypto.KeyObject>();
  const keyObject = (jwk: JWK): NodeCrypto.KeyObject | undefined => {
    if (!usableKey(jwk)) return undefined;
    const id = `${jwk.x}`;
    let key = keys.get(id);
    if (!key) {
      try {
        key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
      } catch {
        return undefined;
      }
      if (keys.size >= 64) keys.clear(); // a handful of cluster keys at most; bounded all the same
      keys.set(id, key);
    }
    return key;
  };
  return async (token, jwks, kid) => {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) {
      throw invalid('the lease token is not a compact JWS');
    }
    const [header, payload, signature] = parts as [string, string, string];
    const bytes = buffer.from(signature, 'base64url');
    if (bytes.length !== 64) throw invalid('the lease token does not verify: signature has the wrong length');
    const signed = buffer.from(`${header}.${payload}`, 'ascii');
    const candidates = jwks.keys.filter((k) => k.kid === kid).map(keyObject);
    if (!candidates.some((key) => key !== undefined)) {
      throw invalid(`the lease token's key "${kid}" is not an Ed25519 signing key`);
    }
    if (!candidates.some((key) => key !== undefined && crypto.verify(null, signed, key, bytes))) {
      throw invalid('the lease token does not verify: signature verification failed');
    }
    return parsePayload(() =>
      new TextDecoder('utf-8', { fatal: true }).decode(buffer.from(payload, 'base64url')),
    );
  };
}

/** Everywhere else (browsers): jose over WebCrypto. */
export const joseVerifier: JwsVerifier = async (token, jwks) => {
  const options = { algorithms: [...ALGORITHMS] };
  let payload: Uint8Array | undefined;
  try {
    ({ payload } = await compactVerify(token, keyGetter(jwks), options));
  } catch (err) {
    // Several keys under one kid (a set in the middle of a rotation): try each, as nodeVerifier does.
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      for await (const key of err) {
        payload = await compactVerify(token, key, options).then(
          (verified) => verified.payload,
          () => undefined,
        );
        if (payload) break;
      }
    }
    if (!payload) {
      const reason = err instanceof Error ? err.message : String(err);
      throw invalid(`the lease token does not verify: ${reason}`, err);
    }
  }
  const bytes = payload;
  return parsePayload(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes));
};

const builtin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  ?.getBuiltinModule;
const nodeCrypto = builtin?.('node:crypto') as typeof NodeCrypto | undefined;
const nodeBuffer = (builtin?.('node:buffer') as typeof NodeBuffer | undefined)?.Buffer;

/** The verifier this runtime uses. */
export const defaultVerifier: JwsVerifier =
  nodeCrypto && nodeBuffer && typeof nodeCrypto.verify === 'function'
    ? nodeVerifier(nodeCrypto, nodeBuffer)
    : joseVerifier;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** What jose's local key set accepts for EdDSA: an Ed25519 OKP key meant for verifying signatures. */
function usableKey(jwk: JWK): boolean {
  return (
    jwk.kty === 'OKP' &&
    jwk.crv === 'Ed25519' &&
    typeof jwk.x === 'string' &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    (jwk.alg === undefined || ALGORITHMS.includes(jwk.alg)) &&
    (jwk.key_ops === undefined || jwk.key_ops.includes('verify'))
  );
}

// jose's local key set copies the keys when made: remade when the set's keys change in place.
const keyGetters = new WeakMap<JSONWebKeySet, { readonly keys: string; readonly get: JWTVerifyGetKey }>();

function keyGetter(jwks: JSONWebKeySet): JWTVerifyGetKey {
  const keys = JSON.stringify(jwks.keys);
  let getter = keyGetters.get(jwks);
  if (getter?.keys !== keys) {
    getter = { keys, get: createLocalJWKSet(jwks) };
    keyGetters.set(jwks, getter);
  }
  return getter.get;
}

function parsePayload(decode: () => string): unknown {
  try {
    return JSON.parse(decode()) as unknown;
  } catch (cause) {
    throw invalid('the lease token payload is not JSON', cause);
  }
}

function invalid(message: string, cause?: unknown): LeaseholdClientError {
  return new LeaseholdClientError('TOKEN_INVALID', message, { cause });
}
