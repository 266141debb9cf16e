import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  DEFAULT_LEASE_POLICY,
  encryptLicense,
  importPrivateKey,
  importPublicKey,
  issueLicense,
  type LicenseClaims,
  parseDuration,
} from '@leasehold/domain';

export interface IssueOptions {
  readonly key: string;
  readonly customer: string;
  readonly product: string;
  readonly feature: readonly string[];
  readonly expires: string;
  readonly notBefore?: string | undefined;
  readonly leaseTtl?: string | undefined;
  readonly grace?: string | undefined;
  readonly policy?: string | undefined;
  readonly id?: string | undefined;
  readonly version?: string | undefined;
  readonly issuer?: string | undefined;
  readonly encryptTo?: string | undefined;
  /** Cluster ids (`leasehold cluster id`) the license is bound to; none: it installs on any cluster. */
  readonly bindCluster?: readonly string[] | undefined;
  readonly out: string;
}

/** `2030-01-01` (midnight UTC) or a full RFC 3339 time, to epoch seconds. */
export function parseDate(text: string, flag: string): number {
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) throw new Error(`${flag}: not a date: "${text}" (use YYYY-MM-DD or RFC 3339)`);
  return Math.floor(ms / 1000);
}

function parseFeatures(specs: readonly string[]): LicenseClaims['features'] {
  if (specs.length === 0) throw new Error('give at least one --feature NAME=SEATS');
  const features: LicenseClaims['features'] = {};
  for (const spec of specs) {
    const match = /^([^=]+)=(\d+)$/.exec(spec);
    if (!match?.[1]) throw new Error(`--feature: expected NAME=SEATS, got "${spec}"`);
    features[match[1]] = { seats: Number(match[2]) };
  }
  return features;
}

function wholeSeconds(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms % 1000 !== 0) throw new Error(`${flag}: lease times are whole seconds, got "${text}"`);
  return ms / 1000;
}

export async function issueLicenseFile(opts: IssueOptions, now: number): Promise<string> {
  const vendorKey = await importPrivateKey(readFileSync(opts.key, 'utf8'), 'sig');
  const policy = opts.policy ?? DEFAULT_LEASE_POLICY.policy;
  if (policy !== 'strict' && policy !== 'overdraft') throw new Error('--policy must be strict or overdraft');
  const clusters = opts.bindCluster ?? [];
  for (const id of clusters) {
    // RFC 7638 SHA-256 thumbprints are 43 base64url characters; anything else is a copy-paste slip.
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) {
      throw new Error(
        `--bind-cluster: "${id}" is not a cluster id (the one line "leasehold cluster id" prints)`,
      );
    }
  }
  const claims: LicenseClaims = {
    lid: opts.id ?? randomUUID(),
    ver: opts.version === undefined ? 1 : Number(opts.version),
    ...(opts.issuer ? { iss: opts.issuer } : {}),
    customer: opts.customer,
    product: opts.product,
    features: parseFeatures(opts.feature),
    iat: Math.floor(now / 1000),
    nbf: opts.notBefore ? parseDate(opts.notBefore, '--not-before') : Math.floor(now / 1000),
    exp: parseDate(opts.expires, '--expires'),
    lease: {
      ttl: opts.leaseTtl ? wholeSeconds(opts.leaseTtl, '--lease-ttl') : DEFAULT_LEASE_POLICY.ttl,
      grace: opts.grace ? wholeSeconds(opts.grace, '--grace') : DEFAULT_LEASE_POLICY.grace,
      policy,
    },
    ...(clusters.length > 0 ? { clusters: [...new Set(clusters)] } : {}),
  };
  let file = await issueLicense(claims, vendorKey);
  if (opts.encryptTo)
    file = await encryptLicense(file, await importPublicKey(readFileSync(opts.encryptTo, 'utf8'), 'enc'));
  writeFileSync(opts.out, `${file}\n`, { mode: 0o644 });
  return claims.lid;
}
