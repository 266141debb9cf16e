import { randomBytes, randomUUID } from 'node:crypto';
import { type LeaseholdError, ManualClock } from '@leasehold/domain';
import { EtcdStore } from '@leasehold/store';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { etcdEndpoints } from './support/etcd.js';
import { leaks, type SecretFixture, secretFixture } from './support/secrets.js';

const T0 = Date.UTC(2026, 0, 1);
let fixture: SecretFixture;
let endpoints: string[];
const opened: EtcdStore[] = [];
beforeAll(async () => {
  fixture = await secretFixture(new ManualClock(T0).now());
  endpoints = await etcdEndpoints();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

const open = (prefix: string, kek: Uint8Array) => {
  const store = new EtcdStore({ endpoints, prefix, kek, licenseKeys: fixture.keys });
  opened.push(store);
  return store;
};

async function filled(kek: Uint8Array): Promise<{ prefix: string; store: EtcdStore }> {
  const prefix = `/at-rest-${randomUUID()}/`;
  const store = open(prefix, kek);
  for (const license of fixture.licenses) await store.installLicense(license, T0);
  await store.ensureSigningKey(fixture.signingKey);
  await store.ensureClusterIdentity(fixture.identityKey);
  await store.revokeLicense('lic-plain', T0 + 1); // a rewrite of a license record, too
  return { prefix, store };
}

/** Every key and value under the prefix, as etcd holds them. */
async function everything(store: EtcdStore, prefix: string): Promise<Buffer> {
  const { results } = await store.gateway.read([{ prefix }]);
  const kvs = results[0] ?? [];
  expect(kvs.length).toBeGreaterThan(5);
  return Buffer.concat(kvs.flatMap((kv) => [Buffer.from(kv.key), kv.value]));
}

describe('At rest: the SQLite file and the etcd values contain no plaintext license payload or private key', () => {
  it('no etcd key or value under the prefix holds any of the secrets', async () => {
    const { prefix, store } = await filled(randomBytes(32));
    expect(leaks(await everything(store, prefix), fixture.needles)).toEqual([]);
    // The scan itself finds a secret stored in plaintext.
    await store.gateway.txn([], [{ put: `${prefix}leak`, value: fixture.licenses[1]?.raw ?? '' }]);
    expect(leaks(await everything(store, prefix), fixture.needles)).toContain('JWE license file');
  });
});

describe('etcd data key', () => {
  it('a second node with the same KEK reads what the first wrote; a wrong KEK is KEK_MISMATCH', async () => {
    const kek = randomBytes(32);
    const { prefix } = await filled(kek);
    const other = open(prefix, kek);
    expect((await other.listLicenses()).map((l) => l.customer).sort()).toEqual(
      fixture.licenses.map((l) => l.customer).sort(),
    );
    expect((await other.listSigningKeys())[0]?.privatePem).toBe(fixture.signingKey.privatePem);
    const wrong = open(prefix, randomBytes(32));
    await expect(wrong.ping()).rejects.toMatchObject({ code: 'KEK_MISMATCH' });
  });

  it('rotation: the old KEK stops working and the new one reads every record', async () => {
    const oldKek = randomBytes(32);
    const newKek = randomBytes(32);
    const { prefix, store } = await filled(oldKek);
    await store.rotateKek(newKek);
    const err = await open(prefix, oldKek)
      .listLicenses()
      .catch((e: unknown) => e as LeaseholdError);
    expect((err as LeaseholdError).code).toBe('KEK_MISMATCH');
    const rotated = open(prefix, newKek);
    expect((await rotated.getLicense('lic-jwe'))?.raw).toBe(fixture.licenses[1]?.raw);
  });

  it('records written before encryption at rest are sealed when the data key is made', async () => {
    const prefix = `/at-rest-legacy-${randomUUID()}/`;
    const kek = randomBytes(32);
    const writer = open(prefix, kek);
    const license = fixture.licenses[0];
    if (!license) throw new Error('fixture');
    // What an older Leasehold wrote: plaintext JSON records and no data key.
    await writer.gateway.txn(
      [],
      [
        { put: writer.keys.license(license.id), value: JSON.stringify({ ...license, installedAt: T0 }) },
        { put: writer.keys.signingKey(fixture.signingKey.kid), value: JSON.stringify(fixture.signingKey) },
      ],
    );
    const before = await writer.gateway.read([{ prefix }]);
    const plain = Buffer.concat((before.results[0] ?? []).map((kv) => kv.value));
    expect(leaks(plain, fixture.needles)).toContain('plain license file');
    expect((await writer.getLicense(license.id))?.raw).toBe(license.raw);
    expect((await writer.listSigningKeys())[0]?.privatePem).toBe(fixture.signingKey.privatePem);
    const { results } = await writer.gateway.read([{ prefix }]);
    const all = Buffer.concat((results[0] ?? []).map((kv) => kv.value));
    expect(leaks(all, fixture.needles)).toEqual([]);
  });
});
