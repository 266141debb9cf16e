import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, leaseholdBin } from '@leasehold/devtools';
import { initCertificateAuthority } from '@leasehold/pki';
import { EtcdStore } from '@leasehold/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Operator commands that open the store themselves reach an mTLS etcd too (here: `leasehold kek rotate`). */
describe('leasehold kek rotate against etcd with client certificate auth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-kek-mtls-'));
  let cluster: EtcdCluster;

  beforeAll(async () => {
    await initCertificateAuthority(join(dir, 'ca'));
    cluster = await EtcdCluster.start({
      members: 1,
      dataDir: join(dir, 'etcd'),
      tls: { caDir: join(dir, 'ca') },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotates with --etcd-tls-*, and cannot reach the store without them', async () => {
    const tls = cluster.tls!;
    const credentials = {
      rootCertificate: readFileSync(tls.ca),
      certChain: readFileSync(tls.cert),
      privateKey: readFileSync(tls.key),
    };
    const [oldKek, newKek] = [randomBytes(32), randomBytes(32)];
    writeFileSync(join(dir, 'old.kek'), oldKek.toString('base64'));
    writeFileSync(join(dir, 'new.kek'), newKek.toString('base64'));
    const open = (kek: Buffer) =>
      new EtcdStore({
        endpoints: cluster.clientUrls(),
        prefix: '/kek-mtls/',
        kek,
        credentials,
        licenseKeys: { vendorKeys: new Map() },
      });
    const first = open(oldKek);
    await first.ping(); // makes the data key, wrapped under the old KEK
    await first.close();

    const rotate = (...extra: string[]) =>
      spawnSync(
        process.execPath,
        [
          leaseholdBin(),
          'kek',
          'rotate',
          '--old',
          join(dir, 'old.kek'),
          '--new',
          join(dir, 'new.kek'),
          '--etcd-endpoints',
          cluster.clientUrls().join(','),
          '--etcd-prefix',
          '/kek-mtls/',
          ...extra,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
    const refused = rotate('--etcd-tls-ca', tls.ca);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('STORE_UNAVAILABLE');

    const rotated = rotate('--etcd-tls-ca', tls.ca, '--etcd-tls-cert', tls.cert, '--etcd-tls-key', tls.key);
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain('wrapped under');
    const after = open(newKek);
    try {
      await after.ping();
    } finally {
      await after.close();
    }
  });
});
