import type { Static } from 'typebox';
import type { ClusterView } from '../../http/routes/cluster.js';
import type { LeaseView, LicenseView, TokenView } from '../../http/schemas.js';
import { type Column, renderTable } from './table.js';
import { ago, instant, span, until } from './time-text.js';

type LeaseRow = Static<typeof LeaseView>;
type LicenseRow = Static<typeof LicenseView>;
type TokenRow = Static<typeof TokenView>;

/** What `GET /v1/cluster` answers (routes/cluster.ts), as far as the status table shows it. */
export type ClusterAnswer = Pick<Static<typeof ClusterView>, 'node' | 'store' | 'nodes' | 'storeMembers'>;

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** Who holds which seat, since when, until when: `leasehold leases list`. */
export function leasesTable(leases: readonly LeaseRow[], now: number): string {
  const columns: Column<LeaseRow>[] = [
    { header: 'LEASE', cell: (l) => l.id },
    { header: 'LICENSE', cell: (l) => l.license },
    { header: 'FEATURE', cell: (l) => l.feature },
    { header: 'SLOT', cell: (l) => String(l.slot), right: true },
    { header: 'CLIENT', cell: (l) => l.client.id },
    { header: 'USER@HOST', cell: (l) => `${l.client.user ?? '-'}@${l.client.host ?? '-'}` },
    { header: 'STATE', cell: (l) => l.state },
    { header: 'NODE', cell: (l) => l.grantedBy ?? '-' },
    { header: 'SINCE', cell: (l) => instant(l.createdAt) },
    {
      header: 'HELD',
      cell: (l) => span((l.endedAt ? Date.parse(l.endedAt) : now) - Date.parse(l.createdAt)),
    },
    { header: 'RENEWED', cell: (l) => ago(l.renewedAt, now) },
    { header: 'EXPIRES', cell: (l) => (l.endedAt ? '-' : until(l.expiresAt, now)) },
  ];
  return renderTable(columns, leases, 'no leases');
}

/** Licenses, their seats in use and their expiry: `leasehold license list`. */
export function licensesTable(licenses: readonly LicenseRow[], now: number): string {
  const columns: Column<LicenseRow>[] = [
    { header: 'LICENSE', cell: (l) => l.id },
    { header: 'VERSION', cell: (l) => String(l.version), right: true },
    { header: 'CUSTOMER', cell: (l) => l.customer },
    { header: 'PRODUCT', cell: (l) => l.product },
    { header: 'STATE', cell: (l) => l.state },
    {
      header: 'SEATS IN USE',
      cell: (l) => l.entitlements.map((e) => `${e.feature} ${e.inUse}/${e.seats}`).join(', '),
    },
    {
      header: 'POLICY',
      cell: (l) => `${l.lease.policy} ttl ${l.lease.ttlSeconds}s grace ${l.lease.graceSeconds}s`,
    },
    { header: 'EXPIRES', cell: (l) => instant(l.expiresAt) },
    { header: 'EXPIRES IN', cell: (l) => until(l.expiresAt, now) },
  ];
  return renderTable(columns, licenses, 'no licenses installed');
}

/** API tokens, never their secrets: `leasehold tokens list`. */
export function tokensTable(tokens: readonly TokenRow[]): string {
  const columns: Column<TokenRow>[] = [
    { header: 'TOKEN', cell: (t) => t.id },
    { header: 'SCOPE', cell: (t) => t.scope },
    { header: 'NAME', cell: (t) => t.name ?? '-' },
    { header: 'LICENSE', cell: (t) => t.license ?? '-' },
    { header: 'CREATED', cell: (t) => instant(t.createdAt) },
    { header: 'STATE', cell: (t) => (t.revokedAt ? `revoked ${instant(t.revokedAt)}` : 'active') },
  ];
  return renderTable(columns, tokens, 'no tokens');
}

export interface StatusAnswer {
  readonly server: string;
  readonly health: { readonly status?: string } & Record<string, unknown>;
  readonly ready: { readonly status?: string; readonly error?: string } & Record<string, unknown>;
  readonly cluster: ClusterAnswer;
  readonly licenses: readonly LicenseRow[];
}

/** The node asked, the cluster's nodes (role, health), the store's members, the licenses. */
export function statusReport(status: StatusAnswer, now: number): string {
  const ready = status.ready.error ? `not ready (${status.ready.error})` : 'ready';
  const head =
    `node ${status.cluster.node} at ${status.server}: ${status.health.status ?? 'unknown'}, ${ready}; ` +
    `store ${status.cluster.store}\n`;
  type NodeRow = ClusterAnswer['nodes'][number];
  const nodes = renderTable<NodeRow>(
    [
      { header: 'NODE', cell: (n) => (n.self ? `${n.id} *` : n.id) },
      { header: 'URL', cell: (n) => n.url },
      { header: 'ROLE', cell: (n) => n.role },
      { header: 'HEALTHY', cell: (n) => yesNo(n.healthy) },
      { header: 'HEARTBEAT', cell: (n) => `${span(n.heartbeatAgeMs)} ago`, right: true },
      {
        header: 'CLOCK SKEW',
        // Beyond the clock margin a seat may go to two clients (docs/ha.md "Expiry"): said in the cell.
        cell: (n) =>
          n.clockSkewMs === undefined
            ? '-'
            : `${n.clockSkewMs}ms${n.clockSkewBeyondMargin === true ? '(>margin)' : ''}`,
        right: true,
      },
      { header: 'VERSION', cell: (n) => n.version },
      { header: 'UP SINCE', cell: (n) => instant(n.startedAt) },
    ],
    status.cluster.nodes,
    'no nodes registered',
  );
  type MemberRow = ClusterAnswer['storeMembers'][number];
  const members =
    status.cluster.storeMembers.length === 0
      ? ''
      : `\n${renderTable<MemberRow>(
          [
            { header: 'STORE MEMBER', cell: (m) => m.name },
            { header: 'ENDPOINT', cell: (m) => m.endpoint },
            { header: 'LEADER', cell: (m) => yesNo(m.leader) },
            { header: 'HEALTHY', cell: (m) => (m.healthy ? 'yes' : `no${m.error ? ` (${m.error})` : ''}`) },
            { header: 'RAFT TERM', cell: (m) => String(m.raftTerm ?? '-'), right: true },
            {
              header: 'DB SIZE',
              cell: (m) =>
                m.dbSizeBytes === undefined ? '-' : `${(m.dbSizeBytes / 1048576).toFixed(1)} MiB`,
              right: true,
            },
          ],
          status.cluster.storeMembers,
        )}`;
  return `${head}\n${nodes}${members}\n${licensesTable(status.licenses, now)}`;
}
