import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DevCluster } from '@leasehold/devtools';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The dashboard as deployed with TLS: HTTPS-only nodes (`leasehold dev cluster --tls`), where the page,
 * its modules and the live stream all travel over TLS. Chromium runs without the dev CA in its trust store,
 * so certificate errors are ignored here: this checks the dashboard over HTTPS, not the PKI (the TLS
 * tests do that).
 */
const ARTIFACTS = resolve(import.meta.dirname, '../../../../test-artifacts/dashboard');

describe('dashboard over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-dashboard-tls-'));
  let cluster: DevCluster;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await DevCluster.start({
      nodes: 2,
      etcdMembers: 1,
      dataDir: join(dir, 'cluster'),
      tls: true,
      fresh: true,
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in and streams live snapshots from an HTTPS-only node, under the same CSP', async () => {
    const base = cluster.urls()[0] ?? '';
    expect(base).toMatch(/^https:\/\//);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    const shell = await page.goto(base);
    expect(shell?.status()).toBe(200);
    expect(shell?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.fill('#token', cluster.adminToken);
    await page.click('#sign-in button[type=submit]');
    // This wait (10 s) and the next (5 s): the whole test took 2.30 s at most (3 runs on 2026-12-06, one
    // beside a CPU-bound process).
    await page.locator('tr[data-node][data-state="up"]').nth(1).waitFor({ timeout: 10_000 });
    expect(await page.getAttribute('#nodes-summary', 'data-healthy')).toBe('2');
    expect(await page.getAttribute('#connection', 'data-state')).toBe('live');
    for (const url of cluster.urls()) {
      expect(await page.locator(`tr[data-node] td:has-text("${url}")`).count()).toBe(1);
    }
    // Snapshots keep arriving over TLS (each stamps its time on the connection badge).
    const stamp = () => page.getAttribute('#connection', 'data-snapshot');
    const first = await stamp();
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT/);
    await expect.poll(stamp, { timeout: 5000 }).not.toBe(first);
    await page.screenshot({ path: join(ARTIFACTS, 'tls-signed-in.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });
}, 180_000);
