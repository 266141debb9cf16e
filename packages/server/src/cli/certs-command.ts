import type { Command } from 'commander';

// @leasehold/pki (and @peculiar/x509, its ASN.1 modules and tsyringe under it) is loaded by the two
// commands below only: every other command, `serve` above all, would otherwise parse ~200 modules it
// never uses (issue 14: the embedded node's idle RSS).
const pki = () => import('@leasehold/pki');

const positiveDays = (value: string): number => {
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new Error(`--days must be a whole number of days from 1 to 36500, got '${value}'`);
  }
  return days;
};

const KINDS = ['server', 'client', 'peer'] as const;

/**
 * `leasehold certs init|issue`: a development CA and the certificates for TLS and mutual TLS (ECDSA P-256,
 * made with @peculiar/x509 on Node's WebCrypto; no openssl needed). For production, issue from your own CA.
 */
export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .description('a development CA and node, client and etcd certificates for TLS and mTLS');
  certs
    .command('init')
    .description('make a CA: <out>/ca.crt and <out>/ca.key (0600); refuses to overwrite a key')
    .requiredOption('-o, --out <dir>', 'directory for the CA (created 0700)')
    .option('--days <n>', 'validity in days', positiveDays, 3650)
    .option('--name <cn>', 'common name of the CA', 'Leasehold development CA')
    .action(async (opts: { out: string; days: number; name: string }) => {
      const { initCertificateAuthority } = await pki();
      const files = await initCertificateAuthority(opts.out, { days: opts.days, commonName: opts.name });
      process.stdout.write(`CA certificate: ${files.cert}\nCA key (keep secret): ${files.key}\n`);
    });
  certs
    .command('issue')
    .description('issue a certificate from a CA made by `certs init`: <out>/<name>.crt and <name>.key (0600)')
    .requiredOption('--ca <dir>', 'the CA directory (ca.crt, ca.key)')
    .requiredOption('--name <name>', 'common name: a node id, an etcd member, a client')
    .option('--san <list>', 'subject alternative names, comma-separated IPs and DNS names', (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .option(
      '--kind <kind>',
      'server (serves TLS) | client (presents itself) | peer (both: nodes, etcd members)',
      'peer',
    )
    .option('--days <n>', 'validity in days', positiveDays, 365)
    .option('-o, --out <dir>', 'where to write the files (default: the CA directory)')
    .action(
      async (opts: {
        ca: string;
        name: string;
        san?: string[];
        kind: string;
        days: number;
        out?: string;
      }) => {
        const kind = KINDS.find((k) => k === opts.kind);
        if (!kind) throw new Error(`--kind must be server, client or peer, got '${opts.kind}'`);
        if (kind !== 'client' && (opts.san ?? []).length === 0) {
          throw new Error(`a ${kind} certificate needs --san (the IPs and names clients connect to)`);
        }
        const { issueCertificateFiles } = await pki();
        const files = await issueCertificateFiles(opts.ca, opts.out ?? opts.ca, {
          name: opts.name,
          kind,
          days: opts.days,
          ...(opts.san ? { sans: opts.san } : {}),
        });
        process.stdout.write(`certificate: ${files.cert}\nkey: ${files.key}\nCA: ${files.ca}\n`);
      },
    );
}
