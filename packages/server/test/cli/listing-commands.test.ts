import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { leaseholdBin, makeVendor, type NodeProcess } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSqliteNode } from '../helpers/sqlite-node.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { cells } from './table-cells.js';

/**
 * The operator's listings against a real node (issue 13, item 8): `status`, `license list`, `leases list`
 * and `tokens list` print tables by default and the node's JSON answer with `-o json` or `--json`.
 */
const run = promisify(execFile);
let dir: string;
let node: NodeProcess;

const cli = async (...args: string[]) =>
  (await run(process.execPath, [leaseholdBin(), ...args, '--server', node.url, '--token', ADMIN_TOKEN]))
    .stdout;

beforeAll(async () => {
  dir = mkdtempSync(`${tmpdir()}/lh-cli-tables-`);
  const vendor = await makeVendor();
  vendor.writePublicKey(dir);
  node = await spawnSqliteNode(dir, { LEASEHOLD_NODE_ID: 'node-cli' });
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const license = await vendor.issue({ lid: 'lic-cli', features: { solver: { seats: 4 } } });
  await fetch(`${node.url}/v1/licenses`, { method: 'POST', headers, body: JSON.stringify({ license }) });
  await fetch(`${node.url}/v1/tokens`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ scope: 'client', license: 'lic-cli', name: 'cad-app' }),
  });
  for (const user of ['ana', 'bo']) {
    const granted = await fetch(`${node.url}/v1/leases`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        feature: 'solver',
        client: { id: `ws-${user}`, host: `${user}-host`, user },
        requestId: `request-${user}-0001`,
      }),
    });
    if (granted.status !== 201) throw new Error(`checkout: ${granted.status} ${await granted.text()}`);
  }
}, 30_000);

afterAll(async () => {
  await node?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('leasehold listings', () => {
  it('leases list: a table of who holds which seat; -o json and --json give the node answer', async () => {
    const table = cells(await cli('leases', 'list'));
    expect(table[0]?.slice(0, 7)).toEqual([
      'LEASE',
      'LICENSE',
      'FEATURE',
      'SLOT',
      'CLIENT',
      'USER@HOST',
      'STATE',
    ]);
    // Through which node each seat was checked out (issue 13, item 8).
    expect(table.slice(1).map((r) => [r[1], r[2], r[4], r[5], r[6], r[7]])).toEqual([
      ['lic-cli', 'solver', 'ws-ana', 'ana@ana-host', 'active', 'node-cli'],
      ['lic-cli', 'solver', 'ws-bo', 'bo@bo-host', 'active', 'node-cli'],
    ]);
    for (const flag of [['-o', 'json'], ['--json']]) {
      const json = JSON.parse(await cli('leases', 'list', ...flag)) as {
        leases: { client: { id: string } }[];
      };
      expect(json.leases.map((l) => l.client.id).sort()).toEqual(['ws-ana', 'ws-bo']);
    }
    // Filters still apply to both forms.
    expect(await cli('leases', 'list', '--feature', 'nothing')).toBe('no leases\n');
  });

  it('license list: seats in use and expiry', async () => {
    const table = cells(await cli('license', 'list'));
    expect(table[0]).toContain('SEATS IN USE');
    expect(table[1]?.[0]).toBe('lic-cli');
    expect(table[1]).toContain('solver 2/4');
    const json = JSON.parse(await cli('license', 'list', '-o', 'json')) as {
      licenses: { id: string; entitlements: { inUse: number }[] }[];
    };
    expect(json.licenses.map((l) => [l.id, l.entitlements[0]?.inUse])).toEqual([['lic-cli', 2]]);
  });

  it('tokens list: names and scopes, never a secret', async () => {
    const text = await cli('tokens', 'list');
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toMatch(/lh_(admin|client|operator)_/);
    const rows = cells(text);
    expect(rows[0]).toEqual(['TOKEN', 'SCOPE', 'NAME', 'LICENSE', 'CREATED', 'STATE']);
    expect(rows.slice(1).map((r) => [r[1], r[2], r[3], r[5]])).toContainEqual([
      'client',
      'cad-app',
      'lic-cli',
      'active',
    ]);
    const json = JSON.parse(await cli('tokens', 'list', '--json')) as { tokens: { name?: string }[] };
    expect(json.tokens.map((t) => t.name)).toContain('cad-app');
  });

  it('status: the node, its role and health, the licenses; -o json keeps every answer', async () => {
    const text = await cli('status');
    expect(text.split('\n')[0]).toMatch(new RegExp(`^node \\S+ at ${node.url}: ok, ready; store sqlite$`));
    const blocks = text.split('\n\n').map(cells);
    expect(blocks[1]?.[0]).toEqual([
      'NODE',
      'URL',
      'ROLE',
      'HEALTHY',
      'HEARTBEAT',
      'CLOCK SKEW',
      'VERSION',
      'UP SINCE',
    ]);
    expect(blocks[1]?.[1]?.slice(2, 4)).toEqual(['leader', 'yes']);
    // The embedded store's one member, then the licenses.
    expect(blocks[2]?.[0]?.[0]).toBe('STORE MEMBER');
    expect(blocks[3]?.[1]?.[0]).toBe('lic-cli');
    const json = JSON.parse(await cli('status', '-o', 'json')) as {
      health: { status: string };
      cluster: { store: string; nodes: unknown[] };
      licenses: unknown[];
    };
    expect([json.health.status, json.cluster.store, json.cluster.nodes.length, json.licenses.length]).toEqual(
      ['ok', 'sqlite', 1, 1],
    );
  });

  it('an unknown output format is refused, naming the choices', async () => {
    const failed = await cli('leases', 'list', '-o', 'yaml').then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain('Allowed choices are table, json');
  });
});
