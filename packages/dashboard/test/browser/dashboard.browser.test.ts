import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type DevCluster, startVendorCluster } from '@leasehold/devtools';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core; no browser is ever
 * downloaded) against a real 3-node dev cluster on 3 etcd members. Steps build on each other, like an
 * operator's session: sign in, watch a checkout arrive live, watch a SIGKILLed node turn down, force-release
 * a lease, then an operator's view. Screenshots of each step go to test-artifacts/dashboard/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../../../../test-artifacts/dashboard');
/** The nodes' default heartbeat TTL (LEASEHOLD_NODE_TTL_SECONDS) and interval. */
const NODE_TTL_MS = 3000;
/**
 * Timer and rendering lateness on two cores shared by 3 etcd members, 3 nodes, Chromium, this test and
 * whatever else runs (other suites at a load average of 6 were seen to delay the page by ~0.5 s).
 * Measured here: 2.1-2.6 s against the 3 s TTL (docs/dashboard.md).
 */
const SCHEDULING_SLACK_MS = 1000;

/** The one thing of the DOM this Node-typed file needs inside the page. */
interface Window {
  readonly document: { querySelector(selector: string): unknown };
}

describe('dashboard in Chromium against a 3-node cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-dashboard-'));
  let cluster: DevCluster;
  let browser: Browser;
  let page: Page;
  let base: string;
  const consoleErrors: string[] = [];

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    url = base,
    token = cluster.adminToken,
  ) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const checkout = (feature: string, client: string, url?: string) =>
    api('POST', '/v1/leases', { feature, client: { id: client }, requestId: randomUUID() }, url);
  /**
   * Waits until `selector` matches, checking every 10 ms inside the page: locator.waitFor() backs off to
   * polling every 500 ms or so, which would add up to half a second to the figures measured with it.
   */
  const appears = (selector: string, timeout = 5000) =>
    page.waitForFunction(
      // A function, not a string: the page's CSP (rightly) refuses to eval strings. Typed without DOM.
      (sel: string) => (globalThis as unknown as Window).document.querySelector(sel) !== null,
      selector,
      { polling: 10, timeout },
    );
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const started = await startVendorCluster(dir);
    cluster = started.cluster;
    const { vendor } = started;
    base = cluster.urls()[0] ?? '';
    const license = await vendor.issue({
      features: { solver: { seats: 3 }, viewer: { seats: 2 } },
      lease: { ttl: 60, grace: 0, policy: 'strict' },
    });
    expect((await api('POST', '/v1/licenses', { license })).status).toBe(201);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in CI containers: Chromium's sandbox needs user namespaces it may not have there.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong token, then signs in with the admin token and shows three healthy nodes and the etcd members', async () => {
    await page.goto(base);
    await page.locator('#sign-in').waitFor();
    await page.fill('#token', `lh_admin_${'x'.repeat(43)}`);
    await page.click('#sign-in button[type=submit]');
    await expect.poll(() => page.textContent('#sign-in-error')).toContain('unknown or revoked');
    await shot('01-wrong-token');

    await page.fill('#token', cluster.adminToken);
    await page.click('#sign-in button[type=submit]');
    await page.locator('#dashboard').waitFor();
    await page.locator('tr[data-node][data-state="up"]').nth(2).waitFor();
    expect(await page.locator('tr[data-node]').count()).toBe(3);
    expect(await page.getAttribute('#nodes-summary', 'data-healthy')).toBe('3');
    await page.locator('tr[data-member]').nth(2).waitFor();
    expect(await page.locator('#members-summary').textContent()).toMatch(/3 of 3 healthy · leader \S+/);
    expect(await page.textContent('#whoami')).toContain('admin');
    // The token went into sessionStorage, not into a URL or a cookie.
    expect(await page.evaluate('sessionStorage.getItem("leasehold.token")')).toBe(cluster.adminToken);
    expect(page.url()).toBe(`${base}/`);
    expect((await page.context().cookies()).length).toBe(0);
    await page.locator('#usage-list li[data-usage="lic-1/solver"][data-in-use="0"]').waitFor();
    await page.locator('#chart-latency canvas').waitFor();
    await shot('02-signed-in');
  });

  it('streams a snapshot about every second (measured on the wire)', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/events`, {
      headers: { authorization: `Bearer ${cluster.adminToken}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    const arrivals: number[] = [];
    const sizes: number[] = [];
    let buffer = '';
    while (arrivals.length < 7) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith('event: snapshot')) {
          arrivals.push(performance.now());
          sizes.push(Buffer.byteLength(block));
        }
      }
    }
    abort.abort();
    // From the second one: the first comes at once on subscribing, off the one-second beat.
    const gaps = arrivals.slice(2).map((t, i) => t - (arrivals[i + 1] ?? t));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    console.log(
      `dashboard: snapshots every ${mean.toFixed(0)} ms on average (gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms), ` +
        `${Math.min(...sizes)}-${Math.max(...sizes)} bytes each (3 nodes, 3 etcd members, 2 features)`,
    );
    // bounds 800-1300 ms: measured means 1000-1004 ms, gaps 974-1039 ms (8 runs on 2026-12-06, 3 beside a
    // CPU-bound process; docs/dashboard.md: 1002 ms, gaps 986-1019 ms).
    expect(mean).toBeGreaterThan(800);
    expect(mean).toBeLessThan(1300);
    expect(Math.max(...sizes)).toBeLessThan(8192);
  });

  it('shows a checkout made through another node without a reload', async () => {
    // Browser-side expressions as strings: this file compiles without the DOM library.
    await page.evaluate('window.marker = "same page"');
    const started = performance.now();
    const lease = await checkout('solver', 'cad-workstation-7', cluster.urls()[1]);
    const answeredMs = Math.round(performance.now() - started);
    expect(lease.status).toBe(201);
    await appears('#usage-list li[data-usage="lic-1/solver"][data-in-use="1"]');
    const seenMs = Math.round(performance.now() - started);
    await page.locator(`tr[data-lease="${lease.body.id}"]`).waitFor({ timeout: 5000 });
    expect(await page.evaluate('window.marker')).toBe('same page');
    expect(await page.textContent('li[data-usage="lic-1/solver"] .count')).toBe('1 / 3');
    console.log(
      `dashboard: a checkout through node-2 (answered in ${answeredMs} ms) showed on node-1's page ` +
        `${seenMs} ms after it was sent (no reload)`,
    );
    // bound 2500 ms (one 1 s tick plus slack): worst measured 1065 ms (1008-1065 ms, 8 runs on 2026-12-06, 3
    // beside a CPU-bound process; docs/dashboard.md: 1.00-1.03 s).
    expect(seenMs).toBeLessThan(2500);
    await shot('03-usage-live');
  });

  it('marks a SIGKILLed node down within its heartbeat TTL', async () => {
    const victim = cluster.nodes[2];
    if (!victim) throw new Error('no third node');
    await page.locator('tr[data-node="node-3"][data-state="up"]').waitFor();
    const killedAt = performance.now();
    await victim.kill('SIGKILL');
    const downMs = await appears('tr[data-node="node-3"][data-state="down"]', NODE_TTL_MS + 5000).then(
      () => Math.round(performance.now() - killedAt),
      () => undefined,
    );
    await shot('04-node-down');
    console.log(`dashboard: SIGKILLed node-3 shown down ${downMs} ms after the kill (TTL ${NODE_TTL_MS} ms)`);
    expect(downMs, 'node-3 marked down').toBeDefined();
    // Its last heartbeat was before the kill, so its age reaches the TTL at most TTL after the kill, and
    // the page re-renders at that instant (panel-nodes.ts #scheduleFlip); the slack is timer lateness.
    // The TTL is the product's (not loosened). bound 4000 ms: worst measured 2834 ms (2051-2834 ms, 8 runs
    // on 2026-12-06, 3 beside a CPU-bound process; docs/dashboard.md: 2.03-2.64 s): never past the TTL, so
    // none of the 1 s of slack used.
    expect(downMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(NODE_TTL_MS + SCHEDULING_SLACK_MS);
    expect(await page.getAttribute('#nodes-summary', 'data-healthy')).toBe('2');
    // It stays listed as down after membership dropped its record (bound 10 s: the test took 3.83 s at most,
    // the kill-to-down wait included; 8 runs on 2026-12-06).
    await expect
      .poll(() => page.textContent('tr[data-node="node-3"] td.state'), { timeout: 10_000 })
      .toContain('left the cluster');
    expect(await page.locator('tr[data-node="node-1"][data-state="up"]').count()).toBe(1);
  });

  it('force-releases leases from the leases table', async () => {
    const held = await checkout('viewer', 'laptop-3');
    const gone = await checkout('viewer', 'laptop-4');
    expect([held.status, gone.status]).toEqual([201, 201]);
    // The 5 s waits below: the whole test took 1.43 s at most (8 runs on 2026-12-06, 3 beside a CPU-bound
    // process); leases are read on every seat change.
    await page.locator('li[data-usage="lic-1/viewer"][data-in-use="2"]').waitFor({ timeout: 5000 });
    // Default: stop renewals; the seat stays reserved until the last token runs out.
    const heldRow = page.locator(`tr[data-lease="${held.body.id}"]`);
    await heldRow.locator('button[data-action="force-release"]').click();
    await page.locator(`tr[data-lease="${held.body.id}"][data-state="revoked"]`).waitFor({ timeout: 5000 });
    expect(await heldRow.locator('button').count()).toBe(0);
    // With "free the seat at once": the row goes and the seat count drops, live.
    await page.check('#leases-immediate');
    await page.locator(`tr[data-lease="${gone.body.id}"] button[data-action="force-release"]`).click();
    await page.locator(`tr[data-lease="${gone.body.id}"]`).waitFor({ state: 'detached', timeout: 5000 });
    await page.locator('li[data-usage="lic-1/viewer"][data-in-use="1"]').waitFor({ timeout: 5000 });
    expect(await page.textContent('#leases-status')).toMatch(/holding seats|force-released/);
    const after = await api('GET', `/v1/leases/${gone.body.id}`);
    expect(after.body.state).toBe('revoked');
    await shot('05-force-released');
  });

  it("shows the audit panel's state, and signs out", async () => {
    // The audit API may or may not be on this node's build; either way the panel says which.
    await expect.poll(() => page.getAttribute('#audit-status', 'data-available')).toMatch(/^(true|false)$/);
    if ((await page.getAttribute('#audit-status', 'data-available')) === 'true') {
      await page.locator('#audit-body tr[data-seq]').first().waitFor();
      // The force-releases just made through the page are in the trail it shows, once sealed (every 1 s).
      // bound 7000 ms: 93-809 ms (3 runs on 2026-12-06, one beside a CPU-bound process) since the page
      // reads again after a seat change and while records are unsealed; 3,331-4,335 ms when it waited for
      // its 5 s poll.
      const auditWaitStarted = performance.now();
      await page
        .locator('#audit-body tr', { hasText: /force.?release/i })
        .first()
        .waitFor({ timeout: 7000 });
      console.error(
        `[timing] dashboard: force-release row in the audit panel after ${Math.round(performance.now() - auditWaitStarted)} ms (bound 7000 ms)`,
      );
    } else {
      expect(await page.textContent('#audit-status')).toContain('audit not available');
    }
    await page.click('#sign-out');
    await page.locator('#sign-in').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("leasehold.token")')).toBeNull();
  });

  it('lets an operator token in, with force-release (the security policy: read + force-release)', async () => {
    const created = await api('POST', '/v1/tokens', { scope: 'operator', name: 'on-call' });
    expect(created.status).toBe(201);
    await page.fill('#token', String(created.body.token));
    await page.click('#sign-in button[type=submit]');
    await page.locator('#dashboard').waitFor();
    await page.locator('tr[data-node="node-1"][data-state="up"]').waitFor();
    expect(await page.textContent('#whoami')).toContain('operator');
    // The sign-out wiped the admin's rows: what shows now is the operator's own reading.
    const active = page.locator('tr[data-lease][data-state="active"]');
    await active.first().waitFor();
    expect(await active.count()).toBe(1);
    expect(await page.locator('tr[data-state="revoked"] button').count()).toBe(0);
    await page.check('#leases-immediate');
    await active.locator('button[data-action="force-release"]').click();
    await active.first().waitFor({ state: 'detached', timeout: 5000 });
    await page.locator('li[data-usage="lic-1/solver"][data-in-use="0"]').waitFor({ timeout: 5000 });
    await shot('06-operator');
    // No CSP violation, script error or failed request logged by the page along the way.
    expect(consoleErrors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
  });

  it('says "unknown", not "down", when the node serving the page dies, and links to the others', async () => {
    await cluster.nodes[0]?.kill('SIGKILL');
    // bound 10 s: the stream is presumed dead after 4 s without a snapshot (STALE_MS); the whole test took
    // 3.64 s at most (8 runs on 2026-12-06, 3 beside a CPU-bound process).
    await page.locator('tr[data-node="node-2"][data-state="unknown"]').waitFor({ timeout: 10_000 });
    expect(await page.textContent('#nodes-summary')).toContain('no news from node-1');
    // node-3 was known to be down already: it stays down.
    expect(await page.getAttribute('tr[data-node="node-3"]', 'data-state')).toBe('down');
    expect(await page.getAttribute('#connection', 'data-state')).not.toBe('live');
    expect(await page.getAttribute('tr[data-node="node-2"] a', 'href')).toBe(`${cluster.urls()[1]}/`);
    await shot('07-serving-node-down');
  });
}, 240_000);
