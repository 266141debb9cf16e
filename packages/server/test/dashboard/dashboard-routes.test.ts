import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

describe('dashboard page and files', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('serves the shell at / without a token, under a strict CSP and with no inline script or style', async () => {
    const res = await t.call({ method: 'GET', url: '/', token: null });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const html = res.body;
    expect(html).toContain('<title>Leasehold</title>');
    // Every script is an external file from this node; no inline handlers or style attributes.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/src="\/dashboard\/[\w.-]+"/);
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|<style\b|https?:\/\//);
  });

  it.each([
    ['main.js', 'text/javascript; charset=utf-8', 'readEventStream'],
    ['panel-charts.js', 'text/javascript; charset=utf-8', "from './uplot.js'"],
    ['uplot.js', 'text/javascript; charset=utf-8', 'export { uPlot as default }'],
    ['uplot.css', 'text/css; charset=utf-8', '.uplot'],
    ['dashboard.css', 'text/css; charset=utf-8', '#usage-list'],
    ['icon.svg', 'image/svg+xml', '<svg'],
  ])('serves /dashboard/%s as %s', async (file, type, content) => {
    const res = await t.call({ method: 'GET', url: `/dashboard/${file}`, token: null });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(res.body).toContain(content);
    expect(res.headers['content-security-policy']).toBeDefined();
    const etag = String(res.headers.etag);
    const again = await t.call({
      method: 'GET',
      url: `/dashboard/${file}`,
      token: null,
      headers: { 'if-none-match': etag },
    });
    expect([again.statusCode, again.body]).toEqual([304, '']);
  });

  it.each([
    ['an unknown file', '/dashboard/nope.js', 404, 'ROUTE_NOT_FOUND'],
    ['a type declaration', '/dashboard/main.d.ts', 404, 'ROUTE_NOT_FOUND'],
    ['a path out of the folder', '/dashboard/..%2Fpackage.json', 400, 'VALIDATION_FAILED'],
    ['a dotfile', '/dashboard/.env', 400, 'VALIDATION_FAILED'],
  ])('refuses %s with problem+json', async (_name, url, status, code) => {
    const res = await t.call({ method: 'GET', url, token: null });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe(code);
  });
});

describe('GET /v1/events', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(() => t.close());

  it('needs an admin or operator token: 401 without one, 403 for a client token', async () => {
    const none = await t.call({ method: 'GET', url: '/v1/events', token: null });
    expect([none.statusCode, none.json().code]).toEqual([401, 'UNAUTHENTICATED']);
    const bad = await t.call({ method: 'GET', url: '/v1/events', token: `lh_admin_${'x'.repeat(43)}` });
    expect([bad.statusCode, bad.json().code]).toEqual([401, 'UNAUTHENTICATED']);
    await t.install();
    const client = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1', name: 'app' },
    });
    const denied = await t.call({ method: 'GET', url: '/v1/events', token: client.json().token });
    expect([denied.statusCode, denied.json().code]).toEqual([403, 'FORBIDDEN']);
  });

  it('streams a hello and snapshots, pushes a checkout at once, and ends when the node closes', async () => {
    await t.install();
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${base}/v1/events`, {
      headers: { authorization: 'Bearer lh_admin_ttttttttttttttttttttttttttttttttttttttttttt' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = sseEvents(res);
    const hello = await events.next('hello');
    expect(hello).toEqual({ node: 'test-node', scope: 'admin', intervalMs: 1000, canForceRelease: true });
    const first = await events.next('snapshot');
    expect(first).toMatchObject({
      node: 'test-node',
      store: 'sqlite',
      usage: [{ license: 'lic-1', feature: 'solver', seats: 3, inUse: 0 }],
      problems: [],
    });
    expect(first.stats).toMatchObject({
      requestsTotal: expect.any(Number),
      latencyMs: { p50: expect.any(Number) },
    });
    expect((await t.checkout()).statusCode).toBe(201);
    // The change waits out the 250 ms minimum gap since the first snapshot; the one-second tick is far off,
    // so the snapshot that follows is the checkout's own.
    await t.clock.advance(250);
    let snapshot = await events.next('snapshot');
    while (snapshot.usage[0].inUse === 0) snapshot = await events.next('snapshot');
    // Pushed by the checkout itself: the manual clock moved only the 250 ms change gap (CHANGE_GAP_MS),
    // far from the next one-second tick.
    expect(t.clock.monotonic()).toBeLessThan(1000);
    expect(snapshot.usage[0].inUse).toBe(1);
    // An operator may watch too (the security model's read-mostly role).
    const operator = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'operator', name: 'on-call' },
    });
    expect(operator.statusCode).toBe(201);
    const watching = await fetch(`${base}/v1/events`, {
      headers: { authorization: `Bearer ${operator.json().token}` },
    });
    expect(watching.status).toBe(200);
    const operatorEvents = sseEvents(watching);
    expect(await operatorEvents.next('hello')).toMatchObject({ scope: 'operator' });
    expect((await operatorEvents.next('snapshot')).usage[0].inUse).toBe(1);
    // Revoking its token through this node ends its stream at once.
    const revoked = await t.call({ method: 'DELETE', url: `/v1/tokens/${operator.json().id}` });
    expect(revoked.statusCode).toBe(200);
    expect(await operatorEvents.next('end')).toEqual({
      code: 'UNAUTHENTICATED',
      detail: 'the token was revoked',
    });
    expect(await operatorEvents.end()).toBe(true);
    const closing = performance.now();
    await t.app.close();
    expect(await events.end()).toBe(true);
    const closedMs = performance.now() - closing;
    console.error(
      `[timing] dashboard-routes: stream ended ${closedMs.toFixed(0)} ms after close (bound 2000 ms)`,
    );
    // bound 2000 ms: worst measured 40 ms (13-40 ms, 5 runs on 2026-12-06, two beside a CPU-bound process).
    expect(closedMs).toBeLessThan(2000);
  });
});

/** Reads `event:`/`data:` blocks from a fetch() body; `next(name)` waits for the next one of that name. */
// biome-ignore lint/suspicious/noExplicitAny: test helper over untyped JSON events
function sseEvents(res: Response): { next(name: string): Promise<any>; end(): Promise<boolean> } {
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ended = false;
  const block = async (): Promise<{ event: string; data: string } | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(text)?.[1] ?? 'message';
        const data = [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n');
        return { event, data };
      }
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        return undefined;
      }
      buffer += value;
    }
  };
  return {
    async next(name) {
      for (;;) {
        const b = await block();
        if (!b) throw new Error(`stream ended before a "${name}" event`);
        if (b.event === name) return JSON.parse(b.data);
      }
    },
    async end() {
      while (await block());
      return ended;
    },
  };
}
