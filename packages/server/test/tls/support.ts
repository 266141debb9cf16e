import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { type NodeProcess, spawnNode, tlsFetch } from '@leasehold/devtools';
import { type CertificateAndKey, createCertificateAuthority, issueCertificate } from '@leasehold/pki';

const DAY = 86_400_000;

/** Every certificate the TLS tests need, as PEM texts and as files in `dir`. */
export interface TestPki {
  readonly ca: CertificateAndKey;
  /** The node's own certificate (peer: server and client usage), for 127.0.0.1 and localhost. */
  readonly node: CertificateAndKey;
  /** Another node's certificate from the same CA (what the peer probe presents). */
  readonly peer: CertificateAndKey;
  /** A client-only certificate from the same CA. */
  readonly client: CertificateAndKey;
  /** A client certificate from a CA the node does not trust. */
  readonly foreign: CertificateAndKey;
  /** From the right CA, but expired yesterday. */
  readonly expired: CertificateAndKey;
  /** From the right CA, but for servers only: not valid as a client certificate. */
  readonly serverOnly: CertificateAndKey;
  /** A node certificate from the right CA for a host that is no node of the cluster. */
  readonly elsewhere: CertificateAndKey;
  readonly files: { readonly ca: string; readonly cert: string; readonly key: string };
}

export async function makeTestPki(dir: string): Promise<TestPki> {
  const ca = await createCertificateAuthority();
  const otherCa = await createCertificateAuthority({ commonName: 'Some other CA' });
  const sans = ['127.0.0.1', 'localhost'];
  const now = Date.now();
  const pki: Omit<TestPki, 'files'> = {
    ca,
    node: await issueCertificate(ca, { name: 'node-1', sans, kind: 'peer' }),
    peer: await issueCertificate(ca, { name: 'node-2', sans, kind: 'peer' }),
    client: await issueCertificate(ca, { name: 'some-client', kind: 'client' }),
    foreign: await issueCertificate(otherCa, { name: 'some-client', kind: 'client' }),
    expired: await issueCertificate(ca, {
      name: 'some-client',
      kind: 'client',
      notBefore: new Date(now - 3 * DAY),
      notAfter: new Date(now - DAY),
    }),
    serverOnly: await issueCertificate(ca, { name: 'node-9', sans, kind: 'server' }),
    elsewhere: await issueCertificate(ca, {
      name: 'node-x',
      sans: ['10.9.9.9', 'node-x.example'],
      kind: 'peer',
    }),
  };
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'node.crt'), key: join(dir, 'node.key') };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.cert, pki.node.certPem);
  writeFileSync(files.key, pki.node.keyPem, { mode: 0o600 });
  return { ...pki, files };
}

export type TlsNode = NodeProcess & { readonly port: number };

/** Starts `leasehold serve` with TLS and waits for /readyz over HTTPS (with the peer certificate). */
export async function spawnTlsNode(
  args: string[],
  pki: TestPki,
  env: Record<string, string> = {},
): Promise<TlsNode> {
  const check = tlsFetch({ ca: pki.ca.certPem, cert: pki.peer.certPem, key: pki.peer.keyPem });
  const node = await spawnNode({
    args: ['--log-level', 'warn', ...args],
    env,
    readiness: 'readyz',
    fetch: check,
    startTimeoutMs: 15_000,
  });
  return Object.assign(node, { port: Number(new URL(node.url).port) });
}

/** What one HTTPS GET ended in: the status, or the error code of a failed connection or handshake. */
export function httpsGet(
  url: string,
  options: { ca: string; cert?: CertificateAndKey; servername?: string; headers?: Record<string, string> },
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent: false,
        ca: options.ca,
        ...(options.cert ? { cert: options.cert.certPem, key: options.cert.keyPem } : {}),
        ...(options.servername ? { servername: options.servername } : {}),
        headers: options.headers ?? {},
        signal: AbortSignal.timeout(5000),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * TCP ports the process listens on, from /proc: its socket inodes (fd links `socket:[inode]`) matched
 * against the LISTEN (state 0A) rows of /proc/net/tcp and tcp6.
 */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // the fd closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1], cols[3], cols[9]];
      if (state === '0A' && inode && inodes.has(inode) && local) {
        ports.add(Number.parseInt(local.split(':')[1] ?? '0', 16));
      }
    }
  }
  return [...ports].sort((a, b) => a - b);
}
