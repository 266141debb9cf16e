// @peculiar/x509 resolves its ASN.1 parsers through tsyringe, which needs the Reflect metadata API
// (documented requirement of the library); importing it here keeps that global polyfill next to its reason.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

/** What a certificate is for, as its extended key usage says (RFC 5280 §4.2.1.12). */
export type CertificateKind = 'ca' | 'server' | 'client' | 'peer';

/** A certificate and its private key, both PEM (key: unencrypted PKCS#8, as Node and etcd read it). */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Validity of a certificate; both default around now (from one minute ago, for clock skew). */
export interface Validity {
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Used when `notAfter` is not given: `days` after `notBefore`. */
  readonly days?: number;
}

export interface CaOptions extends Validity {
  /** Common name of the CA; default `Leasehold development CA`. */
  readonly commonName?: string;
}

export interface IssueOptions extends Validity {
  /** The certificate's common name (a node id, `etcd1`, a client name). */
  readonly name: string;
  /** Subject alternative names: IP addresses become iPAddress entries, anything else dNSName. */
  readonly sans?: readonly string[];
  readonly kind: Exclude<CertificateKind, 'ca'>;
}

// ECDSA P-256 with SHA-256: small keys, fast handshakes, and accepted by Node/OpenSSL and by Go (etcd).
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

// @peculiar/x509 signs through a WebCrypto provider it holds globally; Node's own is the one to use (no
// native addon, and the same OpenSSL that later verifies these certificates in TLS).
x509.cryptoProvider.set(webcrypto);

function validity(options: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const days = options.days ?? defaultDays;
  if (options.notAfter === undefined && (!Number.isFinite(days) || days <= 0)) {
    throw new TypeError(`certificate validity must be a positive number of days, got ${String(days)}`);
  }
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new TypeError('certificate notAfter must be later than notBefore');
  }
  return { notBefore, notAfter };
}

/** A positive 128-bit serial number (RFC 5280 §4.1.2.2: unique per CA, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A distinguished name with one CN; commas and the like are escaped by building it from JSON. */
function subject(commonName: string): x509.Name {
  if (commonName === '' || commonName.length > 64) {
    throw new TypeError(`a certificate name must be 1 to 64 characters, got '${commonName}'`);
  }
  return new x509.Name([{ CN: [commonName] }]);
}

/**
 * Makes a self-signed certificate authority: the root that node, client and etcd certificates chain to.
 *
 * @example
 * ```ts
 * const ca = await createCertificateAuthority({ days: 365 });
 * const node = await issueCertificate(ca, { name: 'node-1', sans: ['127.0.0.1'], kind: 'peer' });
 * ```
 */
export async function createCertificateAuthority(options: CaOptions = {}): Promise<CertificateAndKey> {
  const keys = await newKeys();
  const name = subject(options.commonName ?? 'Leasehold development CA');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: name,
    issuer: name,
    ...validity(options, 3650),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys) };
}

const USAGES: Record<IssueOptions['kind'], string[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  // Nodes and etcd members are both: they serve their peers and call them.
  peer: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

/**
 * Issues a leaf certificate signed by `ca`. Dates can be set freely (tests need expired certificates);
 * `kind` sets the extended key usage, which TLS checks: a server-only certificate is refused as a client's.
 *
 * @example
 * ```ts
 * const client = await issueCertificate(ca, { name: 'leasehold-node', kind: 'client', days: 30 });
 * ```
 */
export async function issueCertificate(
  ca: CertificateAndKey,
  options: IssueOptions,
): Promise<CertificateAndKey> {
  if (!(options.kind in USAGES)) {
    throw new TypeError(`kind must be server, client or peer, got '${String(options.kind)}'`);
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(ca.keyPem),
    ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await newKeys();
  const sans = options.sans ?? [];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(USAGES[options.kind], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (sans.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        sans.map((san) => ({ type: isIP(san) === 0 ? ('dns' as const) : ('ip' as const), value: san })),
        false,
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject(options.name),
    issuer: caCert.subjectName,
    ...validity(options, 365),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys) };
}
