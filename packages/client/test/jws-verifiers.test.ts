import * as crypto from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { joseVerifier, nodeVerifier } from '../src/token/jws.js';
import { verifyLeaseTokenWith } from '../src/token/verify-lease-token.js';

/**
 * One rejection suite, run against both signature verifiers: node:crypto (Node, Deno, Bun) and jose over
 * WebCrypto (browsers). What one accepts, the other must accept; what one refuses, the other must refuse.
 */
const verifiers = [
  ['node:crypto', nodeVerifier(crypto, Buffer)],
  ['jose (WebCrypto)', joseVerifier],
] as const;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const NOW = Date.UTC(2026, 0, 1);
const claims = {
  iss: 'leasehold',
  sub: 'machine-1',
  jti: 'lease-1',
  lic: 'lic-1',
  feat: 'cad',
  fence: 7,
  slot: 0,
  grace: 30,
  iat: NOW / 1000,
  exp: NOW / 1000 + 60,
};

function keyPair(kid: string, extra: Partial<JWK> = {}) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig', ...extra };
  const sign = (header: Record<string, unknown>, payload: unknown = claims) => {
    const input = `${b64({ alg: 'EdDSA', typ: 'lease+jwt', kid, ...header })}.${b64(payload)}`;
    return `${input}.${crypto.sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
  };
  return { jwk, sign };
}

const cluster = keyPair('cluster-1');
const jwks: JSONWebKeySet = { keys: [cluster.jwk] };
const good = cluster.sign({});

describe.each(verifiers)('lease token verification with %s', (_name, verifier) => {
  const verify = (token: string, set = jwks, now = NOW) =>
    verifyLeaseTokenWith(verifier, token, set, { now });
  const code = (token: string, set = jwks, now = NOW) =>
    verify(token, set, now).then(
      () => 'accepted',
      (err: { code?: string }) => err.code,
    );

  it('accepts a good token and returns its claims', async () => {
    expect(await verify(good)).toEqual(claims);
  });

  it('rejects a modified payload or signature', async () => {
    const [header, , signature] = good.split('.') as [string, string, string];
    expect(await code(`${header}.${b64({ ...claims, grace: 86_400 })}.${signature}`)).toBe('TOKEN_INVALID');
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    expect(await code(`${header}.${good.split('.')[1]}.${flipped}`)).toBe('TOKEN_INVALID');
    expect(await code(`${header}.${good.split('.')[1]}.${signature.slice(0, -4)}`)).toBe('TOKEN_INVALID');
    expect(await code(`${good}.extra`)).toBe('TOKEN_INVALID');
    expect(await code(good.replace('.', '.!'))).toBe('TOKEN_INVALID');
  });

  it('rejects alg none, HS256 keyed with the public key, and a missing typ', async () => {
    const payload = good.split('.')[1];
    expect(await code(`${b64({ alg: 'none', typ: 'lease+jwt', kid: 'cluster-1' })}.${payload}.`)).toBe(
      'TOKEN_INVALID',
    );
    const hsInput = `${b64({ alg: 'HS256', typ: 'lease+jwt', kid: 'cluster-1' })}.${payload}`;
    const secret = Buffer.from(cluster.jwk.x as string, 'base64url');
    const hmac = crypto.createHmac('sha256', secret).update(hsInput).digest('base64url');
    expect(await code(`${hsInput}.${hmac}`)).toBe('TOKEN_INVALID');
    expect(await code(cluster.sign({ typ: undefined }))).toBe('TOKEN_INVALID');
    expect(await code(cluster.sign({ typ: 'JWT' }))).toBe('TOKEN_INVALID');
  });

  it('reports an unknown kid as such, and a forgery under the known kid as invalid', async () => {
    const other = keyPair('other-1');
    expect(await code(other.sign({}))).toBe('TOKEN_KID_UNKNOWN');
    expect(await code(other.sign({ kid: 'cluster-1' }))).toBe('TOKEN_INVALID');
  });

  it('refuses JWS extensions it does not understand (crit, b64)', async () => {
    expect(await code(cluster.sign({ crit: ['exp'] }))).toBe('TOKEN_INVALID');
    expect(await code(cluster.sign({ b64: false, crit: ['b64'] }))).toBe('TOKEN_INVALID');
  });

  it('uses only Ed25519 signing keys from the set', async () => {
    const encryption = keyPair('cluster-1', { use: 'enc' });
    expect(await code(encryption.sign({}), { keys: [encryption.jwk] })).toBe('TOKEN_INVALID');
    const rsa = crypto
      .generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ format: 'jwk' });
    expect(await code(good, { keys: [{ ...(rsa as JWK), kid: 'cluster-1' }] })).toBe('TOKEN_INVALID');
  });

  it('tries every key under a kid (a set in the middle of a rotation)', async () => {
    const stale = keyPair('cluster-1');
    expect(await code(good, { keys: [stale.jwk, cluster.jwk] })).toBe('accepted');
  });

  it('is expired from the second of exp on, and within the signed grace only when asked', async () => {
    const exp = claims.exp * 1000;
    expect(await code(good, jwks, exp - 1)).toBe('accepted');
    expect(await code(good, jwks, exp)).toBe('TOKEN_EXPIRED');
    const withGrace = (now: number) =>
      verifyLeaseTokenWith(verifier, good, jwks, { now, withGrace: true }).then(
        () => 'accepted',
        (err: { code?: string }) => err.code,
      );
    expect(await withGrace(exp + 29_999)).toBe('accepted');
    expect(await withGrace(exp + 30_000)).toBe('TOKEN_EXPIRED');
  });

  it('rejects a payload that is not a lease token', async () => {
    expect(await code(cluster.sign({}, [1, 2]))).toBe('TOKEN_INVALID');
    expect(await code(cluster.sign({}, { ...claims, fence: -1 }))).toBe('TOKEN_INVALID');
    expect(await code(cluster.sign({}, { ...claims, iss: 'someone' }))).toBe('TOKEN_INVALID');
  });
});
