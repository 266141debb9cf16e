import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CertificateFiles, issueCertificateFiles } from '@leasehold/pki';
import { canAccess } from '../lib/can-access.js';

/** The certificates of a TLS cluster: the members' and the harness's. */
export interface ClusterTls {
  /** The members' certificate (server and client usage: they serve clients and call each other). */
  readonly member: CertificateFiles;
  /** The harness's client certificate. */
  readonly client: CertificateFiles;
  readonly clientPem: { readonly ca: string; readonly cert: string; readonly key: string };
}

/** Issues the members' and the harness's certificates from the CA into `<dataDir>/tls/`. */
export async function issueClusterTls(
  caDir: string,
  dataDir: string,
  hosts: readonly string[],
): Promise<ClusterTls> {
  const out = join(dataDir, 'tls');
  if (await canAccess(out)) {
    throw new TypeError(`EtcdCluster.start: ${out} already exists; use a fresh dataDir`);
  }
  const sans = [...new Set([...hosts, '127.0.0.1', 'localhost'])];
  const member = await issueCertificateFiles(caDir, out, { name: 'etcd-member', sans, kind: 'peer' });
  const client = await issueCertificateFiles(caDir, out, { name: 'etcd-harness', kind: 'client' });
  const [ca, cert, key] = await Promise.all(
    [client.ca, client.cert, client.key].map((f) => readFile(f, 'utf8')),
  );
  return { member, client, clientPem: { ca: ca!, cert: cert!, key: key! } };
}
