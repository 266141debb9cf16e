import {
  generateKeyPairPems,
  importPrivateKey,
  issueLicense,
  LEASE_TOKEN_TYP,
  type Lease,
  leaseTokenClaims,
  licenseBindingOf,
  type PrivateKeyInfo,
  signLeaseToken,
} from '@leasehold/domain';
import { decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const NOW = Date.UTC(2026, 5, 1);

const lease: Lease = {
  id: 'lease-1',
  licenseId: 'acme-cad',
  feature: 'solver',
  slot: 3,
  fence: 7,
  client: { id: 'c1' },
  requestId: 'request-1',
  createdAt: NOW,
  renewedAt: NOW,
  expiresAt: NOW + 60_000,
  reservedUntil: NOW + 60_000,
  graceMs: 30_000,
  revokedAt: undefined,
  endedAt: undefined,
  endReason: undefined,
};

/** What jose's SignJWT makes of the same claims with the same key (the signer before issue 14's change). */
const joseToken = (signer: PrivateKeyInfo, claims: object) =>
  new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: LEASE_TOKEN_TYP })
    .sign(signer.key);

/**
 * Lease tokens are signed with node:crypto's one-shot Ed25519 `sign` (the hot path of every checkout and
 * renewal), not through jose: the tokens must stay exactly what jose made and verifies.
 */
describe('lease token signing', () => {
  let signer: PrivateKeyInfo;
  beforeAll(async () => {
    signer = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
  });

  it("is byte for byte jose's SignJWT token (Ed25519 is deterministic), with and without a license", async () => {
    const vendor = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
    const binding = licenseBindingOf(
      await issueLicense(
        {
          lid: 'acme-cad',
          ver: 2,
          customer: 'Acme',
          product: 'cad',
          features: { solver: { seats: 10 } },
          iat: NOW / 1000 - 60,
          nbf: NOW / 1000 - 60,
          exp: NOW / 1000 + 86_400,
          lease: { ttl: 60, grace: 30, policy: 'strict' },
        },
        vendor,
      ),
    );
    for (const license of [undefined, binding]) {
      const token = await signLeaseToken(lease, NOW, signer, license);
      expect(token).toBe(await joseToken(signer, leaseTokenClaims(lease, NOW, license)));
    }
  });

  it('verifies with jose against the public JWK, typ lease+jwt, under the signing key id', async () => {
    const token = await signLeaseToken(lease, NOW, signer);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: signer.kid, typ: LEASE_TOKEN_TYP });
    const { payload } = await jwtVerify(token, await importJWK(signer.publicJwk, 'EdDSA'), {
      typ: LEASE_TOKEN_TYP,
      currentDate: new Date(NOW),
    });
    expect(payload).toEqual(leaseTokenClaims(lease, NOW));
  });

  it('keeps each key its own header and key (a rotation signs under the new kid at once)', async () => {
    const next = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
    const first = await signLeaseToken(lease, NOW, signer);
    const second = await signLeaseToken(lease, NOW, next);
    expect(decodeProtectedHeader(second).kid).toBe(next.kid);
    await expect(
      jwtVerify(second, await importJWK(signer.publicJwk, 'EdDSA'), { currentDate: new Date(NOW) }),
    ).rejects.toThrow();
    expect(await signLeaseToken(lease, NOW, signer)).toBe(first);
  });
});
