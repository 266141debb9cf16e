import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encryptLicense,
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  KEY_CERT_TYP,
  verifyLicense,
} from '@leasehold/domain';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issueLicenseFile } from '../src/cli/license-issue.js';
import { makeTestApp, type TestApp } from './helpers/test-app.js';

/**
 * The node's side of the trust chain (issue 11): every grant carries the vendor-signed license it was
 * granted under (the inner JWS of an encrypted license), the token binds it by id, version and SHA-256,
 * and the cluster identity key certifies the signing key; a license bound to other clusters is refused at
 * install with LICENSE_CLUSTER_MISMATCH.
 */
const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

describe('license chain in grants', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  const clusterId = async () => {
    const res = await t.call({ method: 'GET', url: '/v1/cluster' });
    expect(res.statusCode).toBe(200);
    return res.json().clusterId as string;
  };

  it('sends the license with every checkout and renewal, bound into the token by id, version and hash', async () => {
    const file = await t.vendor.issue();
    expect((await t.install(file)).statusCode).toBe(201);
    const checkout = await t.checkout();
    expect(checkout.statusCode).toBe(201);
    const { token, chain, id } = checkout.json();
    expect(chain.license).toBe(file);
    expect(decodeJwt(token)).toMatchObject({ lic: 'lic-1', lver: 1, lhash: sha256(file) });

    // An upgrade installed here is what the next renewal carries (the node forgets the old one at once).
    const v2 = await t.vendor.issue({ ver: 2, features: { solver: { seats: 5 } } });
    expect((await t.install(v2)).statusCode).toBe(201);
    const renewed = await t.call({ method: 'POST', url: `/v1/leases/${id}/renew` });
    expect(renewed.json().chain.license).toBe(v2);
    expect(decodeJwt(renewed.json().token)).toMatchObject({ lver: 2, lhash: sha256(v2) });
  });

  it('sends the signed license inside an encrypted one, never the JWE', async () => {
    const customer = await generateKeyPairPems('enc');
    const decryption = await importPrivateKey(customer.privatePem, 'enc');
    const dir = mkdtempSync(join(tmpdir(), 'lh-chain-jwe-'));
    const local = await makeTestApp({
      vendor: t.vendor,
      dataDir: dir,
      deps: {
        licenseKeys: {
          vendorKeys: new Map([[t.vendor.publicKey.kid, t.vendor.publicKey]]),
          decryptionKeys: new Map([[decryption.kid, decryption]]),
        },
      },
    });
    try {
      const inner = await t.vendor.issue({ lid: 'lic-sealed' });
      const jwe = await encryptLicense(inner, await importPublicKey(customer.publicPem, 'enc'));
      expect((await local.install(jwe)).statusCode).toBe(201);
      const { token, chain } = (await local.checkout({ license: 'lic-sealed' })).json();
      expect(chain.license).toBe(inner);
      expect(decodeJwt(token).lhash).toBe(sha256(inner));
    } finally {
      await local.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('certifies the signing key with the cluster identity key, whose thumbprint is the cluster id', async () => {
    expect((await t.install()).statusCode).toBe(201);
    const { token, chain } = (await t.checkout()).json();
    const id = await clusterId();
    const header = decodeProtectedHeader(chain.keyCertificate);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: KEY_CERT_TYP, kid: id });
    const claims = decodeJwt(chain.keyCertificate) as { idk: object; cnf: { jwk: object }; sub: string };
    expect(await calculateJwkThumbprint(claims.idk)).toBe(id);
    await jwtVerify(chain.keyCertificate, await importJWK(claims.idk, 'EdDSA'), { issuer: id });
    // The certified key is the one that signed the token.
    expect(claims.sub).toBe(decodeProtectedHeader(token).kid);
    await jwtVerify(token, await importJWK(claims.cnf.jwk, 'EdDSA'), {
      currentDate: new Date(t.clock.now()),
    });
    // The id is the store's: the same after a restart on the same data.
    await t.close(true);
    const again = await makeTestApp({ vendor: t.vendor, dataDir: t.dataDir });
    try {
      const res = await again.call({ method: 'GET', url: '/v1/cluster' });
      expect(res.json().clusterId).toBe(id);
    } finally {
      await again.close();
    }
    t = await makeTestApp(); // for afterEach
  });

  it('installs a license bound to this cluster and refuses one bound to others with LICENSE_CLUSTER_MISMATCH', async () => {
    const id = await clusterId();
    const other = 'A'.repeat(43);
    const refused = await t.install(await t.vendor.issue({ lid: 'lic-elsewhere', clusters: [other] }));
    expect(refused.statusCode).toBe(422);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({
      code: 'LICENSE_CLUSTER_MISMATCH',
      clusterId: id,
      boundTo: [other],
    });
    expect((await t.call({ method: 'GET', url: '/v1/licenses' })).json().licenses).toEqual([]);

    const bound = await t.install(await t.vendor.issue({ lid: 'lic-here', clusters: [other, id] }));
    expect(bound.statusCode).toBe(201);
  });

  it('`license issue --bind-cluster` signs the ids into the license, and refuses what is not a cluster id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-bind-cli-'));
    try {
      const keyFile = join(dir, 'vendor.key.pem');
      writeFileSync(keyFile, t.vendor.privatePem);
      const id = await clusterId();
      const base = {
        key: keyFile,
        customer: 'Acme',
        product: 'cad',
        feature: ['solver=2'],
        expires: '2030-01-01',
        out: join(dir, 'bound.license'),
      };
      await issueLicenseFile({ ...base, bindCluster: [id, id] }, t.clock.now());
      const file = readFileSync(base.out, 'utf8').trim();
      expect(decodeJwt(file).clusters).toEqual([id]);
      await expect(issueLicenseFile({ ...base, bindCluster: ['not-an-id'] }, t.clock.now())).rejects.toThrow(
        /--bind-cluster: "not-an-id" is not a cluster id/,
      );
      expect((await t.install(file)).statusCode).toBe(201);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a license upgraded by another node is read again for a feature the kept version lacks', async () => {
    expect((await t.install()).statusCode).toBe(201);
    expect((await t.checkout()).statusCode).toBe(201); // caches version 1 (solver only)
    const v2 = await t.vendor.issue({ ver: 2, features: { solver: { seats: 3 }, viewer: { seats: 1 } } });
    // Installed by another node of the cluster (straight into the shared store): this node's kept copy is
    // not dropped, and must not be what a grant of the new feature carries.
    const keys = { vendorKeys: new Map([[t.vendor.publicKey.kid, t.vendor.publicKey]]) };
    await t.store.installLicense(await verifyLicense(v2, keys, t.clock.now()), t.clock.now());
    const viewer = await t.checkout({ feature: 'viewer', requestId: randomUUID() });
    expect(viewer.statusCode).toBe(201);
    expect(decodeJwt(viewer.json().token)).toMatchObject({ feat: 'viewer', lver: 2, lhash: sha256(v2) });
  });
});
