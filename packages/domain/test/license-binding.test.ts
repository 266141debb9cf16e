import { createHash } from 'node:crypto';
import {
  assertLicenseFitsCluster,
  certifySigningKey,
  encryptLicense,
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  issueLicense,
  KEY_CERT_TYP,
  type LeaseholdError,
  type LicenseClaims,
  licenseBindingOf,
  type PrivateKeyInfo,
  signedLicenseOf,
  signLeaseToken,
  verifyLicense,
} from '@leasehold/domain';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const NOW = Date.UTC(2026, 5, 1);
const sec = (ms: number) => Math.floor(ms / 1000);
const ID_A = 'A'.repeat(43);
const ID_B = 'B'.repeat(43);

const claims = (overrides: Partial<LicenseClaims> = {}): LicenseClaims => ({
  lid: 'acme-cad',
  ver: 3,
  customer: 'Acme',
  product: 'cad',
  features: { solver: { seats: 10 } },
  iat: sec(NOW) - 60,
  nbf: sec(NOW) - 60,
  exp: sec(NOW) + 86_400,
  lease: { ttl: 60, grace: 0, policy: 'strict' },
  ...overrides,
});

describe('license binding (issue 11)', () => {
  let vendor: PrivateKeyInfo;
  beforeAll(async () => {
    vendor = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
  });

  it('reads id, version, features, expiry, clusters and the SHA-256 of the signed license', async () => {
    const jws = await issueLicense(claims({ clusters: [ID_A, ID_B] }), vendor);
    const binding = licenseBindingOf(jws);
    expect(binding).toMatchObject({
      id: 'acme-cad',
      version: 3,
      features: ['solver'],
      expiresAt: (sec(NOW) + 86_400) * 1000,
      clusters: [ID_A, ID_B],
      jws,
    });
    expect(binding.hash).toBe(createHash('sha256').update(jws).digest('base64url'));
    expect(licenseBindingOf(await issueLicense(claims(), vendor)).clusters).toBeUndefined();
  });

  it('refuses clusters that are not cluster ids, in the signed claims schema', async () => {
    await expect(issueLicense(claims({ clusters: ['short'] }), vendor)).rejects.toThrow(/clusters/);
    await expect(issueLicense(claims({ clusters: [] }), vendor)).rejects.toThrow(/clusters/);
  });

  it('fits an unbound license anywhere, a bound one only on the clusters it names', async () => {
    const unbound = licenseBindingOf(await issueLicense(claims(), vendor));
    expect(() => assertLicenseFitsCluster(unbound, ID_B)).not.toThrow();
    const bound = licenseBindingOf(await issueLicense(claims({ clusters: [ID_A] }), vendor));
    expect(() => assertLicenseFitsCluster(bound, ID_A)).not.toThrow();
    let error: LeaseholdError | undefined;
    try {
      assertLicenseFitsCluster(bound, ID_B);
    } catch (err) {
      error = err as LeaseholdError;
    }
    expect([error?.code, error?.status, error?.details]).toEqual([
      'LICENSE_CLUSTER_MISMATCH',
      422,
      { clusterId: ID_B, boundTo: [ID_A] },
    ]);
  });

  it('finds the signed license inside an encrypted one', async () => {
    const customer = await generateKeyPairPems('enc');
    const jws = await issueLicense(claims(), vendor);
    const jwe = await encryptLicense(jws, await importPublicKey(customer.publicPem, 'enc'));
    const decryption = await importPrivateKey(customer.privatePem, 'enc');
    const keys = {
      vendorKeys: new Map([[vendor.kid, await importPublicKey(JSON.stringify(vendor.publicJwk))]]),
      decryptionKeys: new Map([[decryption.kid, decryption]]),
    };
    expect((await verifyLicense(jwe, keys, NOW)).raw).toBe(jwe);
    expect(await signedLicenseOf(jwe, keys)).toBe(jws);
    expect(await signedLicenseOf(jws, keys)).toBe(jws);
  });

  it('signs lver and lhash into a lease token only for the license the lease is under', async () => {
    const jws = await issueLicense(claims(), vendor);
    const binding = licenseBindingOf(jws);
    const lease = {
      id: 'lease-1',
      licenseId: 'acme-cad',
      feature: 'solver',
      slot: 0,
      fence: 7,
      client: { id: 'c1' },
      requestId: 'request-1',
      createdAt: NOW,
      renewedAt: NOW,
      expiresAt: NOW + 60_000,
      reservedUntil: NOW + 60_000,
      graceMs: 0,
      revokedAt: undefined,
      endedAt: undefined,
      endReason: undefined,
    };
    const token = await signLeaseToken(lease, NOW, vendor, binding);
    expect(decodeJwt(token)).toMatchObject({ lic: 'acme-cad', lver: 3, lhash: binding.hash });
    const other = await signLeaseToken({ ...lease, licenseId: 'other' }, NOW, vendor, binding);
    expect(decodeJwt(other)).not.toHaveProperty('lhash');
  });

  it("certifies a signing key with an identity key: verifiable, naming both keys' thumbprints", async () => {
    const identity = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
    const signing = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
    const cert = await certifySigningKey(identity, signing, NOW);
    expect(decodeProtectedHeader(cert)).toEqual({ alg: 'EdDSA', kid: identity.kid, typ: KEY_CERT_TYP });
    const { payload } = await jwtVerify(cert, await importJWK(identity.publicJwk, 'EdDSA'), {
      issuer: identity.kid,
      subject: signing.kid,
      typ: KEY_CERT_TYP,
    });
    const { idk, cnf } = payload as { idk: object; cnf: { jwk: object } };
    expect(await calculateJwkThumbprint(idk)).toBe(identity.kid);
    expect(await calculateJwkThumbprint(cnf.jwk)).toBe(signing.kid);
    // Deterministic (Ed25519): every node of a cluster makes the same certificate.
    expect(await certifySigningKey(identity, signing, NOW)).toBe(cert);
  });
});
