import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  initCertificateAuthority,
  issueCertificate,
  issueCertificateFiles,
} from '@leasehold/pki';
import { afterAll, describe, expect, it } from 'vitest';

/** The development PKI, cross-checked with OpenSSL (Debian `openssl`), the verifier Node itself uses. */
describe('development certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-certs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('init writes a CA certificate and a 0600 key, and refuses to overwrite the key', async () => {
    const caDir = join(dir, 'ca');
    const files = await initCertificateAuthority(caDir, { days: 30 });
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(statSync(caDir).mode & 0o777).toBe(0o700);
    const ca = new X509Certificate(readFileSync(files.cert));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=Leasehold development CA');
    expect(ca.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    await expect(initCertificateAuthority(caDir)).rejects.toThrow(/EEXIST/);
  });

  it('issues server, client and peer certificates that OpenSSL verifies for exactly their purposes', async () => {
    const caDir = join(dir, 'ca');
    const out = join(dir, 'issued');
    const purposes = { server: ['sslserver'], client: ['sslclient'], peer: ['sslserver', 'sslclient'] };
    for (const kind of ['server', 'client', 'peer'] as const) {
      const files = await issueCertificateFiles(caDir, out, {
        name: `${kind}-1`,
        sans: ['127.0.0.1', 'localhost'],
        kind,
      });
      expect(statSync(files.key).mode & 0o777).toBe(0o600);
      for (const purpose of ['sslserver', 'sslclient']) {
        const verify = () => openssl('verify', '-CAfile', files.ca, '-purpose', purpose, files.cert);
        if (purposes[kind].includes(purpose)) expect(verify()).toContain(': OK');
        else expect(verify).toThrow(/unsuitable certificate purpose|unsupported certificate purpose/);
      }
      const cert = new X509Certificate(readFileSync(files.cert));
      expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkHost('localhost')).toBe('localhost');
      // The key belongs to the certificate.
      expect(openssl('pkey', '-in', files.key, '-pubout')).toBe(
        cert.publicKey.export({ type: 'spki', format: 'pem' }),
      );
    }
  });

  it('takes validity dates, so tests can make expired certificates; OpenSSL sees them as expired', async () => {
    const ca = await createCertificateAuthority();
    const expired = await issueCertificate(ca, {
      name: 'late',
      kind: 'client',
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2020-01-02T00:00:00Z'),
    });
    const cert = new X509Certificate(expired.certPem);
    expect(new Date(cert.validTo).toISOString()).toBe('2020-01-02T00:00:00.000Z');
    writeFileSync(join(dir, 'late-ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'late.crt'), expired.certPem);
    expect(() => openssl('verify', '-CAfile', join(dir, 'late-ca.crt'), join(dir, 'late.crt'))).toThrow(
      /certificate has expired/,
    );
  });

  it('a certificate from another CA does not verify against this one', async () => {
    const [one, other] = await Promise.all([createCertificateAuthority(), createCertificateAuthority()]);
    const leaf = new X509Certificate((await issueCertificate(other, { name: 'x', kind: 'client' })).certPem);
    expect(leaf.verify(new X509Certificate(other.certPem).publicKey)).toBe(true);
    expect(leaf.verify(new X509Certificate(one.certPem).publicKey)).toBe(false);
  });

  it('refuses caller mistakes with TypeError', async () => {
    const ca = await createCertificateAuthority();
    await expect(issueCertificate(ca, { name: '', kind: 'client' })).rejects.toThrow(TypeError);
    await expect(issueCertificate(ca, { name: 'x', kind: 'ca' as 'client' })).rejects.toThrow(TypeError);
    await expect(issueCertificate(ca, { name: 'x', kind: 'client', days: 0 })).rejects.toThrow(TypeError);
    await expect(
      issueCertificate(ca, { name: 'x', kind: 'client', notBefore: new Date(2), notAfter: new Date(1) }),
    ).rejects.toThrow(TypeError);
  });
});
