import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CaOptions,
  type CertificateAndKey,
  createCertificateAuthority,
  type IssueOptions,
  issueCertificate,
} from './issue.js';

/** Where a CA directory keeps its certificate (shareable) and key (secret). */
export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

/** Paths of one issued certificate on disk. */
export interface CertificateFiles {
  /** The CA certificate that verifies it (what peers trust). */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

async function writeSecret(path: string, text: string): Promise<void> {
  // `flag: 'wx'` refuses to overwrite an existing key; mode applies only at creation, so chmod too.
  await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
}

/**
 * Makes a CA in `dir` (created 0700): `ca.crt` and `ca.key` (0600). Refuses to overwrite a key already
 * there, so a second `certs init` cannot silently orphan every certificate issued from the first CA.
 *
 * @example
 * ```ts
 * const { cert } = await initCertificateAuthority('./pki', { days: 3650 });
 * ```
 */
export async function initCertificateAuthority(
  dir: string,
  options: CaOptions = {},
): Promise<{ readonly cert: string; readonly key: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority(options);
  const key = join(dir, CA_KEY_FILE);
  const cert = join(dir, CA_CERT_FILE);
  await writeSecret(key, ca.keyPem);
  await writeFile(cert, ca.certPem, { mode: 0o644 });
  return { cert, key };
}

/** Reads a CA made by {@link initCertificateAuthority}. */
export async function readCertificateAuthority(dir: string): Promise<CertificateAndKey> {
  const [certPem, keyPem] = await Promise.all([
    readFile(join(dir, CA_CERT_FILE), 'utf8'),
    readFile(join(dir, CA_KEY_FILE), 'utf8'),
  ]);
  return { certPem, keyPem };
}

/**
 * Issues a certificate from the CA in `caDir` and writes `<out>/<name>.crt` and `<out>/<name>.key` (0600).
 * The file name is the certificate's name with anything but letters, digits, `.`, `_` and `-` replaced.
 *
 * @example
 * ```ts
 * const files = await issueCertificateFiles('./pki', './pki', { name: 'node-1', sans: ['127.0.0.1'], kind: 'peer' });
 * ```
 */
export async function issueCertificateFiles(
  caDir: string,
  outDir: string,
  options: IssueOptions,
): Promise<CertificateFiles> {
  const ca = await readCertificateAuthority(caDir);
  const issued = await issueCertificate(ca, options);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const base = options.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const cert = join(outDir, `${base}.crt`);
  const key = join(outDir, `${base}.key`);
  await writeSecret(key, issued.keyPem);
  await writeFile(cert, issued.certPem, { mode: 0o644 });
  return { ca: join(caDir, CA_CERT_FILE), cert, key };
}
