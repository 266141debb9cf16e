import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeVendor, type NodeProcess, pollUntil, spawnNode } from '@leasehold/devtools';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The Replication panel in Chromium (docs/dashboard.md) against real processes: an embedded primary, a
 * DR replica (`--replica-of`) and an edge site (`--edge-of`, a block of 2 seats). The primary's page lists
 * both followers (lag, last contact, the edge's block), shows a paused replica falling behind and catching
 * up; the replica's page shows its upstream, the edge's page its block as it counts it.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../../../../test-artifacts/dashboard');
const ADMIN_TOKEN = `lh_admin_${'r'.repeat(43)}`;

describe('dashboard: replicas and edge sites', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-dashboard-repl-'));
  const nodes: NodeProcess[] = [];
  let primary: NodeProcess;
  let replica: NodeProcess;
  let edge: NodeProcess;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  const api = async (url: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const signIn = async (url: string) => {
    await page.goto(url);
    await page.locator('#sign-in').waitFor();
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.locator('#dashboard').waitFor();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const vendor = await makeVendor(Date.now());
    const vendorKey = vendor.writePublicKey(dir);
    const common = ['--log-level', 'warn', '--port', '0', '--vendor-key', vendorKey];
    const env = { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN };
    primary = await spawnNode({
      name: 'primary',
      args: [...common, '--data-dir', join(dir, 'primary'), '--node-id', 'primary'],
      env,
      readiness: 'readyz',
    });
    nodes.push(primary);
    const license = await vendor.issue({
      features: { solver: { seats: 5 } },
      lease: { ttl: 60, grace: 0, policy: 'strict' },
    });
    expect((await api(primary.url, 'POST', '/v1/licenses', { license })).status).toBe(201);
    const replicaToken = await api(primary.url, 'POST', '/v1/tokens', { scope: 'replica', name: 'dr' });
    const clientToken = await api(primary.url, 'POST', '/v1/tokens', {
      scope: 'client',
      license: 'lic-1',
      name: 'edge',
    });
    replica = await spawnNode({
      name: 'replica',
      args: [...common, '--data-dir', join(dir, 'replica'), '--node-id', 'dr-1'],
      env: {
        LEASEHOLD_REPLICA_OF: primary.url,
        LEASEHOLD_UPSTREAM_TOKEN: String(replicaToken.body.token),
        LEASEHOLD_REPLICA_WAIT_MS: '2000',
      },
      readiness: 'readyz',
    });
    nodes.push(replica);
    edge = await spawnNode({
      name: 'edge',
      args: [
        ...common,
        '--data-dir',
        join(dir, 'edge'),
        '--node-id',
        'edge-a',
        '--edge-of',
        primary.url,
        '--upstream-token',
        String(clientToken.body.token),
        '--seat-block',
        'lic-1:solver=2',
        '--block-ttl',
        '60s',
      ],
      env,
      readiness: 'readyz',
    });
    nodes.push(edge);
    await pollUntil(
      async (_left, note) => {
        const site = await api(edge.url, 'GET', '/v1/edge/site');
        const block = (site.body.blocks as { seats: number }[] | undefined)?.[0];
        note(JSON.stringify(block));
        return block?.seats === 2;
      },
      { what: 'the edge to hold its block', timeoutMs: 15_000, intervalMs: 100 },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it("the primary's page lists the replica and the edge with its block", async () => {
    await signIn(primary.url);
    const replicaRow = page.locator('#followers-body tr[data-follower="dr-1"][data-role="replica"]');
    await replicaRow.waitFor({ timeout: 10_000 });
    await page.locator('#followers-body tr[data-follower="dr-1"][data-lag="0"]').waitFor();
    const edgeBlock = page.locator(
      '#followers-body tr[data-follower="edge-a"][data-role="edge"] [data-block="lic-1:solver"]',
    );
    await edgeBlock.waitFor();
    expect(await edgeBlock.textContent()).toMatch(/^lic-1:solver · 2 seats · [\d.]+ (s|min) left$/);
    expect(await page.locator('#followers-body tr[data-follower="edge-a"]').textContent()).toContain(
      'renewed',
    );
    // No epoch on this version's /v1/cluster: shown as a dash, not as 0.
    expect(await page.getAttribute('#replication-summary', 'data-epoch')).toMatch(/^(—|\d+)$/);
    expect(await page.textContent('#replication-summary')).toContain('2 followers');
    await shot('replication-01-primary');
  });

  it('shows a paused replica falling behind and catching up', async () => {
    replica.pause();
    try {
      const checkout = await api(primary.url, 'POST', '/v1/leases', {
        feature: 'solver',
        client: { id: 'c-1' },
        requestId: randomUUID(),
      });
      expect(checkout.status).toBe(201);
      await page.waitForFunction(
        () => {
          const row = (
            globalThis as unknown as {
              document: { querySelector(s: string): { dataset: { lag?: string } } | null };
            }
          ).document.querySelector('#followers-body tr[data-follower="dr-1"]');
          return row !== null && Number(row.dataset.lag) > 0;
        },
        undefined,
        { timeout: 10_000, polling: 100 },
      );
      await shot('replication-02-replica-behind');
    } finally {
      replica.resume();
    }
    await page.locator('#followers-body tr[data-follower="dr-1"][data-lag="0"]').waitFor({ timeout: 10_000 });
  });

  it("the replica's page shows its upstream; the edge's page its block", async () => {
    await signIn(replica.url);
    const upstream = page.locator('#replication-upstream[data-connected="true"]');
    await upstream.waitFor({ timeout: 10_000 });
    expect(await upstream.textContent()).toContain(`upstream ${primary.url}`);
    expect(await page.textContent('#replication-summary')).toContain(`replica of ${primary.url}`);
    await shot('replication-03-replica');

    await signIn(edge.url);
    const block = page.locator('#site-blocks-body tr[data-block="lic-1:solver"].up');
    await block.waitFor({ timeout: 10_000 });
    expect(await block.locator('td').nth(3).textContent()).toBe('2');
    expect(await page.textContent('#replication-summary')).toContain(`edge site edge-a of ${primary.url}`);
    await shot('replication-04-edge');
    expect(consoleErrors).toEqual([]);
  });
});
