import { createHash, generateKeyPairSync } from 'node:crypto';
import { createClient, type LeaseholdClientError, type Logger } from '@leasehold/client';
import { FakeCluster } from '@leasehold/client/testing';
import { decodeJwt, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { harness } from './support/harness.js';

/**
 * The vendor trust anchor (issue 11): a grant counts only when it chains to a license signed by the
 * product's `vendorKeys`, bound into the token by id, version and hash, for the right product and
 * feature, and — for a license bound to clusters — from a cluster the license names.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: LeaseholdClientError) => err,
  );
const otherVendorKey = (): JWK => {
  const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK;
  return { kty: 'OKP', crv: 'Ed25519', x: x as string };
};

/** An answer whose token is re-signed bound to `license`, and which carries it: a node that lies consistently. */
function rebind(cluster: FakeCluster, license: string) {
  return (body: Record<string, unknown>) => {
    if (typeof body.token !== 'string') return body;
    const claims = decodeJwt(body.token);
    const token = cluster.signToken({ ...claims, lver: decodeJwt(license).ver, lhash: sha256(license) });
    return { ...body, token, chain: { ...(body.chain as object), license } };
  };
}

describe('vendor trust anchor', () => {
  it('unlocks on a grant that chains to the vendor-signed license, and binds the token to it', async () => {
    const h = await harness({ features: { app: 1 } });
    const lease = await h.clock.run(h.client.checkout('app'));
    expect(h.client.isEntitled('app')).toBe(true);
    expect(lease.claims).toMatchObject({
      lic: h.cluster.licenseId,
      lver: 1,
      lhash: sha256(h.cluster.licenseFile),
    });
    await h.clock.run(lease.renew());
    expect(h.client.metrics().counters).toMatchObject({ grantsUntrusted: 0, renewals: 1 });
  });

  it('refuses a license signed by another key: LICENSE_UNTRUSTED, no failover, nothing unlocked', async () => {
    const h = await harness({ features: { app: 1 } }, { vendorKeys: otherVendorKey() });
    const err = await failure(h.clock.run(h.client.checkout('app')));
    expect(err).toMatchObject({ code: 'LICENSE_UNTRUSTED', retryable: false });
    expect(err.message).toMatch(/not one of the vendor keys/);
    expect(h.cluster.requests.filter((r) => r.path === '/v1/leases')).toHaveLength(1);
    expect(h.client.isEntitled('app')).toBe(false);
    expect(h.client.metrics().counters.grantsUntrusted).toBe(1);
    // The refused grant's seat is given back, not held to its expiry.
    await h.clock.advance(0);
    expect(h.cluster.inUse('app')).toBe(0);
    // No grace either: nothing was adopted, so an outage changes nothing.
    h.cluster.setAllModes('down');
    await h.clock.advance(60_000);
    expect(h.client.isEntitled('app')).toBe(false);
  });

  it('accepts the vendor key as PEM text, a JWK Set or a list, and any one of several keys', async () => {
    const cluster = await FakeCluster.start({ features: { app: 2 } });
    const { x } = cluster.vendorKeys;
    const pem = generateKeyPairSync('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(x as string, 'base64url'),
    ]);
    const vendorPem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`;
    for (const vendorKeys of [
      vendorPem,
      { keys: [otherVendorKey(), cluster.vendorKeys] },
      [pem, vendorPem],
    ]) {
      const client = createClient({
        ...cluster.clientOptions(),
        vendorKeys,
        clientId: 'c',
        discovery: false,
      });
      const lease = await client.checkout('app');
      expect(client.isEntitled('app')).toBe(true);
      await lease.release();
      await client.close();
    }
  });

  it('checks the product when the client names one', async () => {
    const h = await harness({ features: { app: 1 }, product: 'cad' }, { product: 'cam' });
    const err = await failure(h.clock.run(h.client.checkout('app')));
    expect([err.code, err.message]).toEqual([
      'LICENSE_UNTRUSTED',
      expect.stringMatching(/product "cad", not "cam"/),
    ]);
    const ok = await harness({ features: { app: 1 }, product: 'cad' }, { product: 'cad' });
    await ok.clock.run(ok.client.checkout('app'));
    expect(ok.client.isEntitled('app')).toBe(true);
  });

  it('refuses a grant whose token is bound to another license than the one it carries', async () => {
    const h = await harness({ features: { app: 1 } });
    // Another version, validly signed by the vendor, swapped in: lver and lhash no longer match.
    h.cluster.node(0).rewriteAnswer = (body) =>
      typeof body.token === 'string'
        ? { ...body, chain: { ...(body.chain as object), license: h.cluster.issueLicense({ ver: 2 }) } }
        : body;
    const err = await failure(h.clock.run(h.client.checkout('app')));
    expect([err.code, err.message]).toEqual(['LICENSE_UNTRUSTED', expect.stringMatching(/bound to license/)]);
    expect(h.client.isEntitled('app')).toBe(false);
  });

  it('refuses a grant without a license, one for another feature, and one whose license expired', async () => {
    const h = await harness({ features: { app: 1 } });
    const cases: [string, (body: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
      ['no chain', ({ chain: _chain, ...body }) => body, /carries no vendor-signed license/],
      [
        'feature not in the license',
        rebind(h.cluster, h.cluster.issueLicense({ ver: 3, features: { other: { seats: 9 } } })),
        /does not grant feature "app"/,
      ],
      [
        'expired license',
        rebind(h.cluster, h.cluster.issueLicense({ ver: 4, exp: Math.floor(h.clock.now() / 1000) - 3600 })),
        /expired at/,
      ],
      ['forged signature', rebind(h.cluster, `${h.cluster.licenseFile.slice(0, -4)}AAAA`), /does not verify/],
    ];
    for (const [what, rewrite, message] of cases) {
      h.cluster.node(0).rewriteAnswer = rewrite;
      const err = await failure(h.clock.run(h.client.checkout('app')));
      expect([what, err.code, err.message]).toEqual([
        what,
        'LICENSE_UNTRUSTED',
        expect.stringMatching(message),
      ]);
      expect(h.client.isEntitled('app')).toBe(false);
    }
  });

  it('ends a lease whose renewal stops chaining, at once and without grace', async () => {
    const h = await harness({ features: { app: 1 }, ttlSeconds: 60, graceSeconds: 600 });
    const lease = await h.clock.run(h.client.checkout('app'));
    h.cluster.node(0).rewriteAnswer = ({ chain: _chain, ...body }) => body;
    const err = await failure(h.clock.run(lease.renew()));
    expect(err.code).toBe('LICENSE_UNTRUSTED');
    expect([lease.status, h.client.isEntitled('app')]).toEqual(['closed', false]);
    expect(h.names()).toEqual(['lost']);
  });

  it('accepts a bound license from the cluster it names, and refuses it from any other cluster', async () => {
    const bound = await harness({ features: { app: 1 }, bindToCluster: true });
    await bound.clock.run(bound.client.checkout('app'));
    expect(bound.client.isEntitled('app')).toBe(true);

    const elsewhere = await FakeCluster.start();
    const h = await harness({ features: { app: 1 }, bindToCluster: [elsewhere.clusterId] });
    const err = await failure(h.clock.run(h.client.checkout('app')));
    expect([err.code, err.message]).toEqual([
      'LICENSE_UNTRUSTED',
      expect.stringMatching(
        `bound to cluster ${elsewhere.clusterId}; this token comes from cluster ${h.cluster.clusterId}`,
      ),
    ]);
    expect(h.client.isEntitled('app')).toBe(false);
  });

  it('refuses a bound grant without a certificate, or with one from another identity key', async () => {
    const h = await harness({ features: { app: 1 }, bindToCluster: true });
    const elsewhere = await FakeCluster.start();
    const foreign = await elsewhere.fetch(`${elsewhere.urls[0]}/v1/leases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${elsewhere.token}` },
      body: JSON.stringify({ feature: 'app', client: { id: 'x' }, requestId: 'foreign-request-1' }),
    });
    const foreignCertificate = ((await foreign.json()) as { chain: { keyCertificate: string } }).chain
      .keyCertificate;
    type Edit = (chain: Record<string, unknown>) => Record<string, unknown>;
    const cases: [Edit, RegExp][] = [
      [({ keyCertificate: _c, ...chain }) => chain, /no signing-key certificate/],
      [(chain) => ({ ...chain, keyCertificate: foreignCertificate }), /this token comes from cluster/],
    ];
    for (const [edit, message] of cases) {
      h.cluster.node(0).rewriteAnswer = (body) =>
        body.chain ? { ...body, chain: edit(body.chain as Record<string, unknown>) } : body;
      const err = await failure(h.clock.run(h.client.checkout('app')));
      expect([err.code, err.message]).toEqual(['LICENSE_UNTRUSTED', expect.stringMatching(message)]);
    }
  });

  it('refuses to start without vendorKeys unless the loudly named opt-out is set, which warns', async () => {
    const base = { servers: ['http://a.test'], token: 'lh_client_x', clientId: 'c' };
    expect(() => createClient(base)).toThrow(/vendorKeys is required/);
    expect(() => createClient({ ...base, vendorKeys: [] })).toThrow(TypeError);
    expect(() =>
      createClient({ ...base, vendorKeys: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }),
    ).toThrow(/Ed25519/);
    expect(() => createClient({ ...base, vendorKeys: { ...otherVendorKey(), d: 'secret' } })).toThrow(
      /private key/,
    );
    expect(() =>
      createClient({ ...base, vendorKeys: otherVendorKey(), insecureSkipVendorCheck: true }),
    ).toThrow(/not both/);
    expect(() => createClient({ ...base, insecureSkipVendorCheck: true, product: 'cad' })).toThrow(/product/);

    const cluster = await FakeCluster.start({ features: { app: 1 } });
    const warnings: string[] = [];
    const logger: Logger = { warn: (_fields, message) => warnings.push(message) };
    const { vendorKeys: _keys, ...options } = cluster.clientOptions();
    const client = createClient({
      ...options,
      clientId: 'dev',
      discovery: false,
      insecureSkipVendorCheck: true,
      logger,
    });
    expect(warnings).toEqual([expect.stringMatching(/insecureSkipVendorCheck is set/)]);
    // Development mode: even a grant without any chain unlocks.
    cluster.node(0).rewriteAnswer = ({ chain: _chain, ...body }) => body;
    await client.checkout('app');
    expect(client.isEntitled('app')).toBe(true);
    await client.close();
  });
});
