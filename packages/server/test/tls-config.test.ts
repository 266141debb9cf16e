import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '@leasehold/pki';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { startNode } from '../src/node/leasehold-node.js';

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, flags });

/** A configuration that asks for TLS never falls back to plaintext: half of one is refused by name. */
describe('TLS configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-tls-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [{ tlsCert: 'node.crt' }, 'tlsCert and tlsKey go together'],
    [{ tlsKey: 'node.key' }, 'tlsCert and tlsKey go together'],
    [{ tlsCa: 'ca.crt' }, 'tlsCa and tlsClientAuth need tlsCert and tlsKey'],
    [{ tlsCert: 'a', tlsKey: 'b', tlsClientAuth: 'require' }, "tlsClientAuth 'require' needs tlsCa"],
    [{ tlsCert: 'a', tlsKey: 'b', advertiseUrl: 'http://node-1:7300' }, 'advertiseUrl must be https://'],
    [{ etcdEndpoints: ['https://127.0.0.1:2379'] }, 'https:// etcdEndpoints need etcdTlsCa'],
    [
      { etcdEndpoints: ['http://127.0.0.1:2379'], etcdTlsCa: 'ca.crt' },
      'etcdEndpoints must be https:// when etcd TLS settings are given',
    ],
    [
      { etcdEndpoints: ['https://127.0.0.1:2379', 'http://127.0.0.1:2380'], etcdTlsCa: 'ca.crt' },
      'etcdEndpoints mix http:// and https://',
    ],
    [
      { etcdEndpoints: ['https://127.0.0.1:2379'], etcdTlsCa: 'ca.crt', etcdTlsCert: 'c.crt' },
      'etcdTlsCert and etcdTlsKey go together',
    ],
    [
      { etcdEndpoints: ['https://127.0.0.1:2379'], etcdTlsCert: 'c.crt', etcdTlsKey: 'c.key' },
      'etcdTlsCert needs etcdTlsCa',
    ],
  ])('%j is refused: %s', (flags, message) => {
    expect(() => load(flags)).toThrow(ConfigError);
    expect(() => load(flags)).toThrow(message);
  });

  it('reads the settings from LEASEHOLD_* variables, and refuses an unknown client-auth mode', () => {
    const config = load(
      {},
      {
        LEASEHOLD_TLS_CERT: 'n.crt',
        LEASEHOLD_TLS_KEY: 'n.key',
        LEASEHOLD_TLS_CA: 'ca.crt',
        LEASEHOLD_TLS_CLIENT_AUTH: 'require',
        LEASEHOLD_ETCD_ENDPOINTS: 'https://127.0.0.1:2379',
        LEASEHOLD_ETCD_TLS_CA: 'ca.crt',
        LEASEHOLD_ETCD_TLS_CERT: 'c.crt',
        LEASEHOLD_ETCD_TLS_KEY: 'c.key',
      },
    );
    expect(config).toMatchObject({
      tlsCert: 'n.crt',
      tlsKey: 'n.key',
      tlsCa: 'ca.crt',
      tlsClientAuth: 'require',
      etcdTlsCa: 'ca.crt',
      etcdTlsCert: 'c.crt',
      etcdTlsKey: 'c.key',
    });
    expect(() => load({ tlsCert: 'a', tlsKey: 'b', tlsCa: 'c', tlsClientAuth: 'maybe' })).toThrow(
      'tlsClientAuth',
    );
  });

  it('a certificate file that cannot be read stops the start with a ConfigError naming the file', async () => {
    const key = join(dir, 'node.key');
    writeFileSync(key, 'not used');
    const config = load({
      dataDir: join(dir, 'data'),
      port: 0,
      tlsCert: join(dir, 'missing.crt'),
      tlsKey: key,
    });
    await expect(startNode(config, { logger: false })).rejects.toThrow(/cannot read tlsCert .*missing\.crt/);
  });

  it('an edge whose upstream certificate file cannot be read, or whose key is not its own, stops with a ConfigError naming the file', async () => {
    const ca = await createCertificateAuthority();
    const [mine, other] = await Promise.all(
      ['edge', 'someone-else'].map((name) => issueCertificate(ca, { name, kind: 'client' })),
    );
    writeFileSync(join(dir, 'edge.crt'), mine!.certPem);
    writeFileSync(join(dir, 'edge.key'), mine!.keyPem);
    writeFileSync(join(dir, 'else.key'), other!.keyPem);
    const edge = (upstream: Record<string, string>) =>
      load({
        dataDir: join(dir, 'edge-data'),
        port: 0,
        edgeOf: 'https://primary.example:7300',
        upstreamToken: `lh_client_${'c'.repeat(43)}`,
        seatBlocks: ['lic-1:solver=1'],
        ...upstream,
      });
    const missing = startNode(
      edge({ upstreamTlsCert: join(dir, 'missing-edge.crt'), upstreamTlsKey: join(dir, 'edge.key') }),
      { logger: false },
    );
    await expect(missing).rejects.toThrow(ConfigError);
    await expect(missing).rejects.toThrow(/cannot read upstreamTlsCert .*missing-edge\.crt/);
    const mismatched = startNode(
      edge({ upstreamTlsCert: join(dir, 'edge.crt'), upstreamTlsKey: join(dir, 'else.key') }),
      { logger: false },
    );
    await expect(mismatched).rejects.toThrow(ConfigError);
    await expect(mismatched).rejects.toThrow(/edge\.crt, .*else\.key\) do not form a usable TLS identity/);
    const noCa = startNode(edge({ upstreamTlsCa: join(dir, 'missing-ca.crt') }), { logger: false });
    await expect(noCa).rejects.toThrow(/cannot read upstreamTlsCa .*missing-ca\.crt/);
  });

  it('a key that does not belong to the certificate stops the start with a ConfigError', async () => {
    const ca = await createCertificateAuthority();
    const [one, other] = await Promise.all(
      ['a', 'b'].map((name) => issueCertificate(ca, { name, sans: ['127.0.0.1'], kind: 'peer' })),
    );
    writeFileSync(join(dir, 'one.crt'), one!.certPem);
    writeFileSync(join(dir, 'other.key'), other!.keyPem);
    const config = load({
      dataDir: join(dir, 'data-mismatch'),
      port: 0,
      tlsCert: join(dir, 'one.crt'),
      tlsKey: join(dir, 'other.key'),
    });
    const start = startNode(config, { logger: false });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/do not form a usable TLS identity/);
  });
});
