import {
  createClient,
  fetchJwks,
  type JSONWebKeySet,
  LEASE_TOKEN_TYP,
  LeaseholdClientError,
  verifyLeaseToken,
} from '@leasehold/client';
import { generateKeyPairPems, importPrivateKey, type PrivateKeyInfo } from '@leasehold/domain';
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LICENSE_ID, startCluster, type TestCluster } from './support/cluster.js';
import { deadUrl } from './support/network.js';

let cluster: TestCluster;
let jwks: JSONWebKeySet;
let token: string;
let kid: string;
let exp: number;
let otherKey: PrivateKeyInfo;

beforeAll(async () => {
  cluster = await startCluster();
  const client = createClient({
    servers: cluster.urls,
    token: cluster.clientToken,
    vendorKeys: cluster.vendorKeys,
    clientId: 'verifier',
  });
  token = (await client.checkout('cad')).token;
  jwks = await fetchJwks(cluster.urls[0] as string);
  kid = decodeProtectedHeader(token).kid as string;
  exp = decodeJwt(token).exp as number;
  otherKey = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
});
afterAll(() => cluster?.close());

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
const parts = (jwt: string) => jwt.split('.') as [string, string, string];

function signWith(key: PrivateKeyInfo, header: Record<string, unknown>, claims: Record<string, unknown>) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', ...header }).sign(key.key);
}

async function failure(promise: Promise<unknown>): Promise<LeaseholdClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LeaseholdClientError);
  return err as LeaseholdClientError;
}

describe('verifyLeaseToken', () => {
  it('accepts a token from a real node and returns its claims', async () => {
    const claims = await verifyLeaseToken(token, jwks, { feature: 'cad', clientId: 'verifier' });
    expect(claims).toMatchObject({
      iss: 'leasehold',
      sub: 'verifier',
      lic: LICENSE_ID,
      feat: 'cad',
      grace: 30,
    });
    expect(claims.exp).toBe(exp);
    expect(Number.isInteger(claims.fence) && Number.isInteger(claims.slot)).toBe(true);
    expect(decodeProtectedHeader(token).typ).toBe(LEASE_TOKEN_TYP);
  });

  it('rejects a token whose payload was modified', async () => {
    const [header, payload, signature] = parts(token);
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    const tampered = `${header}.${encode({ ...claims, fence: claims.fence + 1 })}.${signature}`;
    expect((await failure(verifyLeaseToken(tampered, jwks))).code).toBe('TOKEN_INVALID');
  });

  it('rejects a token whose signature was modified', async () => {
    const [header, payload, signature] = parts(token);
    const middle = Math.floor(signature.length / 2);
    const flipped = signature[middle] === 'A' ? 'B' : 'A';
    const tampered = `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
    expect((await failure(verifyLeaseToken(tampered, jwks))).code).toBe('TOKEN_INVALID');
  });

  it('rejects a token signed by a key the set does not hold', async () => {
    const foreign = await signWith(otherKey, { kid: otherKey.kid, typ: LEASE_TOKEN_TYP }, decodeJwt(token));
    expect((await failure(verifyLeaseToken(foreign, jwks))).code).toBe('TOKEN_KID_UNKNOWN');
    // And a real token against a set that lacks the cluster key.
    const err = await failure(verifyLeaseToken(token, { keys: [otherKey.publicJwk] }));
    expect(err.code).toBe('TOKEN_KID_UNKNOWN');
  });

  it('rejects a token signed by another key under the cluster key id', async () => {
    const forged = await signWith(otherKey, { kid, typ: LEASE_TOKEN_TYP }, decodeJwt(token));
    expect((await failure(verifyLeaseToken(forged, jwks))).code).toBe('TOKEN_INVALID');
  });

  it('refuses alg "none"', async () => {
    const unsigned = `${encode({ alg: 'none', typ: LEASE_TOKEN_TYP, kid })}.${parts(token)[1]}.`;
    expect((await failure(verifyLeaseToken(unsigned, jwks))).code).toBe('TOKEN_INVALID');
  });

  it('refuses HS256 keyed with the public key (algorithm confusion)', async () => {
    const publicJwk = jwks.keys.find((k) => k.kid === kid);
    const secret = base64url.decode(publicJwk?.x as string);
    const hmac = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: 'HS256', typ: LEASE_TOKEN_TYP, kid })
      .sign(secret);
    expect((await failure(verifyLeaseToken(hmac, jwks))).code).toBe('TOKEN_INVALID');
  });

  it('insists on the lease+jwt type', async () => {
    const own: JSONWebKeySet = { keys: [otherKey.publicJwk] };
    const claims = decodeJwt(token);
    const plainJwt = await signWith(otherKey, { kid: otherKey.kid, typ: 'JWT' }, claims);
    expect((await failure(verifyLeaseToken(plainJwt, own))).code).toBe('TOKEN_INVALID');
    const untyped = await signWith(otherKey, { kid: otherKey.kid }, claims);
    expect((await failure(verifyLeaseToken(untyped, own))).code).toBe('TOKEN_INVALID');
    // RFC 7515 §4.1.9: the "application/" prefix may be written out.
    const long = await signWith(otherKey, { kid: otherKey.kid, typ: 'application/lease+jwt' }, claims);
    expect((await verifyLeaseToken(long, own)).jti).toBe(claims.jti);
  });

  it('rejects tokens with a missing or mistyped claim, or another issuer', async () => {
    const own: JSONWebKeySet = { keys: [otherKey.publicJwk] };
    const header = { kid: otherKey.kid, typ: LEASE_TOKEN_TYP };
    const { fence: _fence, ...withoutFence } = decodeJwt(token);
    for (const claims of [
      withoutFence,
      { ...decodeJwt(token), slot: '0' },
      { ...decodeJwt(token), iss: 'other' },
    ]) {
      const bad = await signWith(otherKey, header, claims);
      expect((await failure(verifyLeaseToken(bad, own))).code).toBe('TOKEN_INVALID');
    }
  });

  it('is expired from the second of exp on, judged by the given time', async () => {
    expect((await verifyLeaseToken(token, jwks, { now: exp * 1000 - 1 })).exp).toBe(exp);
    const err = await failure(verifyLeaseToken(token, jwks, { now: exp * 1000 }));
    expect(err).toMatchObject({ code: 'TOKEN_EXPIRED', retryable: false });
    expect((await failure(verifyLeaseToken(token, jwks, { now: new Date((exp + 3600) * 1000) }))).code).toBe(
      'TOKEN_EXPIRED',
    );
  });

  it('accepts a token until exp plus its signed grace with withGrace, and within a clock tolerance', async () => {
    const graceEnd = (exp + 30) * 1000;
    expect((await verifyLeaseToken(token, jwks, { now: graceEnd - 1, withGrace: true })).exp).toBe(exp);
    const err = await failure(verifyLeaseToken(token, jwks, { now: graceEnd, withGrace: true }));
    expect(err.code).toBe('TOKEN_EXPIRED');
    expect((await verifyLeaseToken(token, jwks, { now: exp * 1000 + 999, clockToleranceMs: 1000 })).exp).toBe(
      exp,
    );
    await expect(verifyLeaseToken(token, jwks, { clockToleranceMs: -1 })).rejects.toBeInstanceOf(TypeError);
  });

  it('re-checks time on every call, even for a token it has verified before', async () => {
    expect((await verifyLeaseToken(token, jwks, { now: exp * 1000 - 1 })).jti).toBeDefined();
    expect((await verifyLeaseToken(token, jwks, { now: exp * 1000 - 1 })).jti).toBeDefined();
    expect((await failure(verifyLeaseToken(token, jwks, { now: exp * 1000 }))).code).toBe('TOKEN_EXPIRED');
  });

  it('does not trust an earlier verification once the key under that kid changed in place', async () => {
    const copy: JSONWebKeySet = { keys: jwks.keys.map((k) => ({ ...k })) };
    expect((await verifyLeaseToken(token, copy, { now: exp * 1000 - 1 })).jti).toBeDefined();
    (copy.keys[0] as { x?: string }).x = otherKey.publicJwk.x as string;
    expect((await failure(verifyLeaseToken(token, copy, { now: exp * 1000 - 1 }))).code).toBe(
      'TOKEN_INVALID',
    );
  });

  it('checks the feature and the client id when asked', async () => {
    expect((await failure(verifyLeaseToken(token, jwks, { feature: 'solo' }))).code).toBe('TOKEN_INVALID');
    expect((await failure(verifyLeaseToken(token, jwks, { clientId: 'someone-else' }))).code).toBe(
      'TOKEN_INVALID',
    );
  });

  it('rejects garbage as TOKEN_INVALID and wrong argument types as TypeError', async () => {
    expect((await failure(verifyLeaseToken('not-a-jwt', jwks))).code).toBe('TOKEN_INVALID');
    await expect(verifyLeaseToken(42 as unknown as string, jwks)).rejects.toBeInstanceOf(TypeError);
    await expect(verifyLeaseToken(token, {} as JSONWebKeySet)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('fetchJwks', () => {
  it('fetches the same key set from the client, and fails with a coded error on a dead server', async () => {
    const client = createClient({
      servers: cluster.urls,
      token: cluster.clientToken,
      vendorKeys: cluster.vendorKeys,
      clientId: 'jwks',
    });
    expect(await client.jwks()).toEqual(jwks);
    const err = await failure(fetchJwks(await deadUrl()));
    expect(err).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
  });
});
