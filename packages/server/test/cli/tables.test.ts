import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/cli/output/table.js';
import { leasesTable, licensesTable, statusReport, tokensTable } from '../../src/cli/output/tables.js';
import { span, until } from '../../src/cli/output/time-text.js';
import { cells } from './table-cells.js';

const NOW = Date.parse('2026-12-06T09:19:15Z');

const lease = (over: Record<string, unknown> = {}) => ({
  id: 'lease-1',
  license: 'lic-acme',
  feature: 'solver',
  state: 'active' as const,
  slot: 3,
  fence: 41,
  client: { id: 'workstation-42', host: 'ws42', user: 'ana' },
  requestId: 'r-1',
  createdAt: '2026-12-06T09:14:03.000Z',
  renewedAt: '2026-12-06T09:19:07.000Z',
  expiresAt: '2026-12-06T09:20:07.000Z',
  reservedUntil: '2026-12-06T09:20:07.000Z',
  renewAfter: '2026-12-06T09:19:27.000Z',
  ttlSeconds: 60,
  renewInSeconds: 12,
  graceSeconds: 0,
  grantedBy: 'node-b',
  ...over,
});

const license = {
  id: 'lic-acme',
  version: 2,
  customer: 'ACME',
  product: 'CAD',
  state: 'active' as const,
  entitlements: [
    { feature: 'solver', seats: 10, inUse: 3 },
    { feature: 'viewer', seats: 50, inUse: 0 },
  ],
  issuedAt: '2026-01-01T00:00:00.000Z',
  notBefore: '2026-01-01T00:00:00.000Z',
  expiresAt: '2027-01-05T09:19:15.000Z',
  lease: { ttlSeconds: 60, graceSeconds: 300, policy: 'strict' as const },
  signedBy: 'vendor-kid',
  installedAt: '2026-01-02T00:00:00.000Z',
};

describe('CLI tables', () => {
  it('pads columns to the widest cell, right-aligns numbers, trims line ends, neutralizes control characters', () => {
    const table = renderTable(
      [
        { header: 'NAME', cell: (r: { name: string; n: number }) => r.name },
        { header: 'N', cell: (r) => String(r.n), right: true },
        { header: 'LAST', cell: () => '' },
      ],
      [
        { name: 'a', n: 5 },
        { name: 'long\nname\u001b[31m', n: 120 },
      ],
    );
    expect(table).toBe('NAME              N  LAST\na                 5\nlong name [31m  120\n');
    expect(renderTable([{ header: 'X', cell: () => 'x' }], [], 'nothing here')).toBe('nothing here\n');
  });

  it('spans: the two largest units; until: future and past', () => {
    expect([span(800), span(5_000), span(312_000), span(90_061_000), span(3 * 86_400_000)]).toEqual([
      '800ms',
      '5s',
      '5m12s',
      '1d1h',
      '3d',
    ]);
    expect(until('2026-12-06T09:20:07Z', NOW)).toBe('in 52s');
    expect(until('2026-12-06T09:19:00Z', NOW)).toBe('15s ago');
  });

  it('leases: who holds which seat, since when, renewed when, expiring when', () => {
    const rows = cells(
      leasesTable(
        [
          lease(),
          lease({ id: 'lease-2', state: 'released', endedAt: '2026-12-06T09:18:03.000Z' }),
          // A lease granted by an older version names no node.
          lease({ id: 'lease-3', grantedBy: undefined }),
        ],
        NOW,
      ),
    );
    expect(rows[0]).toEqual([
      'LEASE',
      'LICENSE',
      'FEATURE',
      'SLOT',
      'CLIENT',
      'USER@HOST',
      'STATE',
      'NODE',
      'SINCE',
      'HELD',
      'RENEWED',
      'EXPIRES',
    ]);
    expect(rows[1]).toEqual([
      'lease-1',
      'lic-acme',
      'solver',
      '3',
      'workstation-42',
      'ana@ws42',
      'active',
      'node-b',
      '2026-12-06 09:14:03Z',
      '5m12s',
      '8s ago',
      'in 52s',
    ]);
    // An ended lease: held until it ended, no expiry.
    expect(rows[2]?.slice(6)).toEqual(['released', 'node-b', '2026-12-06 09:14:03Z', '4m', '8s ago', '-']);
    expect(rows[3]?.[7]).toBe('-');
    expect(leasesTable([], NOW)).toBe('no leases\n');
  });

  it('licenses: seats in use per feature, policy, expiry date and time left', () => {
    const rows = cells(licensesTable([license], NOW));
    expect(rows[0]).toEqual([
      'LICENSE',
      'VERSION',
      'CUSTOMER',
      'PRODUCT',
      'STATE',
      'SEATS IN USE',
      'POLICY',
      'EXPIRES',
      'EXPIRES IN',
    ]);
    expect(rows[1]).toEqual([
      'lic-acme',
      '2',
      'ACME',
      'CAD',
      'active',
      'solver 3/10, viewer 0/50',
      'strict ttl 60s grace 300s',
      '2027-01-05 09:19:15Z',
      'in 30d',
    ]);
  });

  it('tokens: never a secret, revoked ones say when', () => {
    const table = tokensTable([
      {
        id: 'tok-1',
        scope: 'client',
        license: 'lic-acme',
        name: 'cad-app',
        createdAt: '2026-12-01T00:00:00.000Z',
      },
      {
        id: 'tok-2',
        scope: 'operator',
        createdAt: '2026-12-02T00:00:00.000Z',
        revokedAt: '2026-12-03T10:00:00.000Z',
      },
    ]);
    expect(cells(table)).toEqual([
      ['TOKEN', 'SCOPE', 'NAME', 'LICENSE', 'CREATED', 'STATE'],
      ['tok-1', 'client', 'cad-app', 'lic-acme', '2026-12-01 00:00:00Z', 'active'],
      ['tok-2', 'operator', '-', '-', '2026-12-02 00:00:00Z', 'revoked 2026-12-03 10:00:00Z'],
    ]);
  });

  it('status: the node asked, every node with role and health, the store members, the licenses', () => {
    const report = statusReport(
      {
        server: 'http://10.0.0.1:7300',
        health: { status: 'ok' },
        ready: { status: 'not ready', error: 'the store cannot be reached' },
        cluster: {
          node: 'node-1',
          store: 'etcd',
          nodes: [
            {
              id: 'node-1',
              url: 'http://10.0.0.1:7300',
              version: '0.1.0',
              role: 'leader',
              startedAt: '2026-12-06T08:00:00.000Z',
              heartbeatAgeMs: 120,
              healthy: true,
              self: true,
            },
            {
              id: 'node-2',
              url: 'http://10.0.0.2:7300',
              version: '0.1.0',
              role: 'follower',
              startedAt: '2026-12-06T08:00:01.000Z',
              heartbeatAgeMs: 9500,
              healthy: false,
              self: false,
              clockSkewMs: -3,
              clockSkewBeyondMargin: false,
            },
            {
              id: 'node-3',
              url: 'http://10.0.0.3:7300',
              version: '0.1.0',
              role: 'follower',
              startedAt: '2026-12-06T08:00:02.000Z',
              heartbeatAgeMs: 300,
              healthy: true,
              self: false,
              clockSkewMs: 2600,
              clockSkewBeyondMargin: true,
            },
          ],
          storeMembers: [
            {
              name: 'etcd1',
              endpoint: 'http://10.0.0.1:2379',
              healthy: true,
              leader: true,
              raftTerm: 4,
              dbSizeBytes: 2097152,
            },
            {
              name: 'etcd2',
              endpoint: 'http://10.0.0.2:2379',
              healthy: false,
              leader: false,
              error: 'deadline',
            },
          ],
        },
        licenses: [license],
      },
      NOW,
    );
    const lines = report.split('\n');
    expect(lines[0]).toBe(
      'node node-1 at http://10.0.0.1:7300: ok, not ready (the store cannot be reached); store etcd',
    );
    const blocks = report.split('\n\n').map(cells);
    expect(blocks[1]).toEqual([
      ['NODE', 'URL', 'ROLE', 'HEALTHY', 'HEARTBEAT', 'CLOCK SKEW', 'VERSION', 'UP SINCE'],
      [
        'node-1 *',
        'http://10.0.0.1:7300',
        'leader',
        'yes',
        '120ms ago',
        '-',
        '0.1.0',
        '2026-12-06 08:00:00Z',
      ],
      ['node-2', 'http://10.0.0.2:7300', 'follower', 'no', '9s ago', '-3ms', '0.1.0', '2026-12-06 08:00:01Z'],
      [
        'node-3',
        'http://10.0.0.3:7300',
        'follower',
        'yes',
        '300ms ago',
        '2600ms(>margin)',
        '0.1.0',
        '2026-12-06 08:00:02Z',
      ],
    ]);
    expect(blocks[2]).toEqual([
      ['STORE MEMBER', 'ENDPOINT', 'LEADER', 'HEALTHY', 'RAFT TERM', 'DB SIZE'],
      ['etcd1', 'http://10.0.0.1:2379', 'yes', 'yes', '4', '2.0 MiB'],
      ['etcd2', 'http://10.0.0.2:2379', 'no', 'no (deadline)', '-', '-'],
    ]);
    expect(blocks[3]?.[1]?.[0]).toBe('lic-acme');
  });
});
