import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from '@leasehold/devtools';
import { systemClock } from '@leasehold/domain';
import { createCertificateAuthority, initCertificateAuthority, issueCertificate } from '@leasehold/pki';
import { type EtcdConnectionOptions, EtcdMembership, EtcdStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * etcd with client and peer certificate auth (`--client-cert-auth`, `--peer-client-cert-auth`), started by
 * the devtools harness: the store works with a client certificate from the cluster CA and fails without.
 */
describe('etcd over mutual TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-etcd-tls-'));
  let cluster: EtcdCluster;
  let good: NonNullable<EtcdConnectionOptions['credentials']>;
  const stores: EtcdStore[] = [];

  beforeAll(async () => {
    await initCertificateAuthority(join(dir, 'ca'));
    cluster = await EtcdCluster.start({
      members: 3,
      dataDir: join(dir, 'etcd'),
      tls: { caDir: join(dir, 'ca') },
    });
    const files = cluster.tls!;
    good = {
      rootCertificate: readFileSync(files.ca),
      certChain: readFileSync(files.cert),
      privateKey: readFileSync(files.key),
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (credentials: EtcdConnectionOptions['credentials'], endpoints = cluster.clientUrls()) => {
    const store = new EtcdStore({
      endpoints,
      prefix: `/tls-${randomUUID()}/`,
      kek: randomBytes(32),
      licenseKeys: { vendorKeys: new Map() },
      callTimeoutMs: 500,
      ...(credentials ? { credentials } : {}),
    });
    stores.push(store);
    return store;
  };

  it('members run with client and peer certificate auth on https URLs', () => {
    for (const member of cluster.members) {
      expect(member.clientUrl).toMatch(/^https:\/\//);
      expect(member.peerUrl).toMatch(/^https:\/\//);
      const args = readFileSync(`/proc/${member.pid}/cmdline`, 'utf8').split('\0');
      expect(args).toEqual(
        expect.arrayContaining([
          '--client-cert-auth=true',
          '--peer-client-cert-auth=true',
          `--trusted-ca-file=${cluster.tls?.ca}`,
          `--peer-trusted-ca-file=${cluster.tls?.ca}`,
        ]),
      );
    }
  });

  it('the store reads and writes with a client certificate from the cluster CA', async () => {
    const store = open(good);
    await store.ping();
    expect(await store.listLicenses()).toEqual([]);
    const put = await store.gateway.client.put(`/tls-probe/${randomUUID()}`).value('x');
    expect(Number(put.header.revision)).toBeGreaterThan(0);
  });

  it('without a client certificate, or with one from another CA, the store is unavailable', async () => {
    const foreignCa = await createCertificateAuthority();
    const foreign = await issueCertificate(foreignCa, { name: 'intruder', kind: 'client' });
    const cases: EtcdConnectionOptions['credentials'][] = [
      { rootCertificate: good.rootCertificate },
      {
        rootCertificate: good.rootCertificate,
        certChain: Buffer.from(foreign.certPem),
        privateKey: Buffer.from(foreign.keyPem),
      },
    ];
    for (const credentials of cases) {
      await expect(open(credentials).ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    }
  });

  it('plaintext gRPC to a TLS member fails', async () => {
    const plain = cluster.clientUrls().map((u) => u.replace('https://', 'http://'));
    await expect(open(undefined, plain).ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('the cluster view (JSON gateway) uses the client certificate too', async () => {
    const view = (credentials: EtcdConnectionOptions['credentials']) => {
      const store = open(credentials);
      return new EtcdMembership({
        gateway: store.gateway,
        keys: store.keys,
        endpoints: cluster.clientUrls(),
        heartbeatMs: 1000,
        ttlSeconds: 3,
        clock: systemClock,
        tasks: [],
      }).storeMembers();
    };
    const withCert = await view(good);
    expect(withCert.map((m) => m.healthy)).toEqual([true, true, true]);
    expect(withCert.filter((m) => m.leader)).toHaveLength(1);
    const without = await view({ rootCertificate: good.rootCertificate });
    expect(without.map((m) => m.healthy)).toEqual([false, false, false]);
    for (const m of without) expect(m.error).toBeDefined();
  });

  it('a peer URL refuses a connection without a client certificate', async () => {
    const member = cluster.members[0]!;
    const outcome = await new Promise<string>((resolve) => {
      const req = request(
        `${member.peerUrl}/version`,
        { agent: false, ca: good.rootCertificate, signal: AbortSignal.timeout(3000) },
        (res) => resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    // Go's TLS server sends the "certificate required" alert (TLS 1.3) when no certificate comes.
    expect(outcome).toMatch(/^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^ECONNRESET$/);
  });
});
