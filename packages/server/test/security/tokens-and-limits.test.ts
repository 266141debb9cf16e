import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '@leasehold/server';
import { generateApiToken, hashApiToken } from '@leasehold/server/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const makeToken = async (app: TestApp, payload: object) => {
  const res = await app.call({ method: 'POST', url: '/v1/tokens', payload });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; token: string; scope: string };
};

describe('operator tokens', () => {
  it('are random, prefixed, >= 128 bits, stored only as a hash, and listed and revoked like the others', async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
    const tokens = [generateApiToken('operator'), generateApiToken('operator')];
    for (const token of tokens) {
      expect(token).toMatch(/^lh_operator_[A-Za-z0-9_-]{43}$/); // 43 base64url characters = 256 bits
      expect(Buffer.from(token.slice('lh_operator_'.length), 'base64url')).toHaveLength(32);
    }
    expect(tokens[0]).not.toBe(tokens[1]);

    const ops = await makeToken(t, { scope: 'operator', name: 'night shift' });
    expect(ops.token).toMatch(/^lh_operator_/);
    const bound = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'operator', license: 'lic-1' },
    });
    expect([bound.statusCode, bound.json().code]).toEqual([400, 'VALIDATION_FAILED']);

    const listed = await t.call({ method: 'GET', url: '/v1/tokens' });
    expect(listed.body).not.toContain(ops.token);
    expect(listed.json().tokens).toContainEqual(expect.objectContaining({ id: ops.id, scope: 'operator' }));
    expect((await t.store.listTokens()).find((r) => r.id === ops.id)?.hash).toBe(hashApiToken(ops.token));
    await t.store.close(); // checkpoint, then look at the bytes
    const db = readFileSync(join(t.dataDir, 'leasehold.db'));
    expect(db.includes(Buffer.from(ops.token))).toBe(false);
    expect(db.includes(Buffer.from(hashApiToken(ops.token)))).toBe(true);
  });

  it('read everything and force-release, but never install, revoke, check out or manage tokens', async () => {
    t = await makeTestApp();
    await t.install();
    const { token, id } = await makeToken(t, { scope: 'operator' });
    const lease = (await t.checkout()).json();
    for (const url of [
      '/v1/licenses',
      '/v1/licenses/lic-1',
      '/v1/leases',
      `/v1/leases/${lease.id}`,
      '/v1/cluster',
    ]) {
      expect([url, (await t.call({ method: 'GET', url, token })).statusCode]).toEqual([url, 200]);
    }
    const released = await t.call({
      method: 'POST',
      url: `/v1/leases/${lease.id}/force-release`,
      token,
      payload: { immediate: true },
    });
    expect([released.statusCode, released.json().state]).toEqual([200, 'revoked']);
    for (const [method, url, payload] of [
      ['POST', '/v1/licenses', { license: await t.vendor.issue({ ver: 2 }) }],
      ['POST', '/v1/licenses/lic-1/revoke', undefined],
      ['POST', '/v1/leases', { feature: 'solver', client: { id: 'c' }, requestId: 'r-1' }],
      ['POST', '/v1/tokens', { scope: 'admin' }],
      ['GET', '/v1/tokens', undefined],
      ['DELETE', `/v1/tokens/${id}`, undefined],
    ] as const) {
      const res = await t.call({ method, url, token, payload });
      expect([url, res.statusCode, res.json().code]).toEqual([url, 403, 'FORBIDDEN']);
    }
    await t.call({ method: 'DELETE', url: `/v1/tokens/${id}` });
    expect((await t.call({ method: 'GET', url: '/v1/leases', token })).json().code).toBe('UNAUTHENTICATED');
  });
});

describe('rate limits (per node)', () => {
  it('limits lease calls per token: 429 RATE_LIMITED with Retry-After, other tokens unaffected', async () => {
    t = await makeTestApp({ deps: { limits: { leaseRateLimitPerMinute: 5 } } });
    await t.install();
    const a = await makeToken(t, { scope: 'client', license: 'lic-1' });
    const b = await makeToken(t, { scope: 'client', license: 'lic-1' });
    const lease = (await t.checkout({}, a.token)).json();
    for (let i = 0; i < 4; i++) {
      expect(
        (await t.call({ method: 'GET', url: `/v1/leases/${lease.id}?client=client-1`, token: a.token }))
          .statusCode,
      ).toBe(200);
    }
    const limited = await t.call({
      method: 'POST',
      url: `/v1/leases/${lease.id}/renew?client=client-1`,
      token: a.token,
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another token of the same license, from the same address, is not affected; nor are non-lease routes.
    expect(
      (await t.call({ method: 'GET', url: `/v1/leases/${lease.id}?client=client-1`, token: b.token }))
        .statusCode,
    ).toBe(200);
    expect((await t.call({ method: 'GET', url: '/v1/nodes', token: a.token })).statusCode).toBe(200);
    // The key is the token, not the address: the same token from elsewhere is still over its budget.
    const elsewhere = await t.app.inject({
      method: 'GET',
      url: `/v1/leases/${lease.id}`,
      remoteAddress: '10.9.9.9',
      headers: { authorization: `Bearer ${a.token}` },
    });
    expect(elsewhere.statusCode).toBe(429);
    // Admin tokens are not rate-limited (they stay with people).
    for (let i = 0; i < 10; i++)
      expect((await t.call({ method: 'GET', url: `/v1/leases/${lease.id}` })).statusCode).toBe(200);
  });

  it('limits failed authentications per address; a valid token always passes', async () => {
    t = await makeTestApp({ deps: { limits: { authFailureLimitPerMinute: 3 } } });
    const from = (remoteAddress: string, token: string | null) =>
      t?.app.inject({
        method: 'GET',
        url: '/v1/licenses',
        remoteAddress,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const bogus = `lh_admin_${'x'.repeat(43)}`;
    for (let i = 0; i < 3; i++) expect((await from('10.0.0.1', bogus))?.json().code).toBe('UNAUTHENTICATED');
    const blocked = await from('10.0.0.1', bogus);
    expect([blocked?.statusCode, blocked?.json().code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(blocked?.headers['retry-after'])).toBeGreaterThan(0);
    // The right token from that address still passes (issue 11: behind a NAT, one attacker's bad tokens
    // must not lock out the honest clients there), and successful calls never count.
    for (let i = 0; i < 5; i++) expect((await from('10.0.0.1', ADMIN_TOKEN))?.statusCode).toBe(200);
    expect((await from('10.0.0.2', ADMIN_TOKEN))?.statusCode).toBe(200);
    // Anonymous calls from that address are failures too; public routes stay open.
    expect((await from('10.0.0.1', null))?.statusCode).toBe(429);
    expect(
      (await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode,
    ).toBe(200);
  });

  it("200 bad tokens from one address do not stop a valid client's renewals from it", async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201);
    const client = await makeToken(t, { scope: 'client', license: 'lic-1' });
    const nat = '198.51.100.7';
    const checkout = await t.checkout({ client: { id: 'ws-1' } }, client.token);
    expect(checkout.statusCode, checkout.body).toBe(201);
    const lease = checkout.json() as { id: string };
    const codes = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const bad = await t.app.inject({
        method: 'POST',
        url: `/v1/leases/${lease.id}/renew?client=ws-1`,
        remoteAddress: nat,
        headers: { authorization: `Bearer lh_client_${String(i).padStart(43, 'z')}` },
      });
      codes.set(bad.statusCode, (codes.get(bad.statusCode) ?? 0) + 1);
      if (i % 20 === 0) {
        const renewed = await t.app.inject({
          method: 'POST',
          url: `/v1/leases/${lease.id}/renew?client=ws-1`,
          remoteAddress: nat,
          headers: { authorization: `Bearer ${client.token}` },
        });
        expect(renewed.statusCode, renewed.body).toBe(200);
      }
    }
    // The default budget (30 a minute) was spent: the rest of the bad tokens were refused with 429.
    expect(Object.fromEntries(codes)).toEqual({ 401: 30, 429: 170 });
  });

  it('trustProxy decides which address is the client: X-Forwarded-For only from a trusted proxy', async () => {
    const bogus = `lh_admin_${'x'.repeat(43)}`;
    const call = (app: TestApp, forwardedFor: string) =>
      app.app.inject({
        method: 'GET',
        url: '/v1/licenses',
        remoteAddress: '10.1.1.1',
        headers: { authorization: `Bearer ${bogus}`, 'x-forwarded-for': forwardedFor },
      });
    // Behind a trusted proxy each forwarded client has its own budget.
    t = await makeTestApp({ deps: { trustProxy: ['10.1.1.1'], limits: { authFailureLimitPerMinute: 2 } } });
    for (let i = 0; i < 2; i++) expect((await call(t, '203.0.113.1')).statusCode).toBe(401);
    expect((await call(t, '203.0.113.1')).statusCode).toBe(429);
    expect((await call(t, '203.0.113.2')).statusCode).toBe(401);
    await t.close();
    // Without it the header is ignored: changing it does not buy a new budget.
    t = await makeTestApp({ deps: { limits: { authFailureLimitPerMinute: 2 } } });
    for (let i = 0; i < 2; i++) expect((await call(t, `203.0.113.${i}`)).statusCode).toBe(401);
    expect((await call(t, '203.0.113.99')).statusCode).toBe(429);
    // The setting: config `trustProxy`, env LEASEHOLD_TRUST_PROXY (a list); none by default.
    expect(loadConfig({ env: {}, flags: {} }).trustProxy).toEqual([]);
    expect(
      loadConfig({ env: { LEASEHOLD_TRUST_PROXY: '10.1.1.1, loopback' }, flags: {} }).trustProxy,
    ).toEqual(['10.1.1.1', 'loopback']);
  });
});

describe('size and time limits (real sockets)', () => {
  const listen = async (limits: object) => {
    t = await makeTestApp({ deps: { limits } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    return address.port;
  };

  it('answers 431 to headers over maxHeaderBytes and 413 PAYLOAD_TOO_LARGE to a body over bodyLimitBytes', async () => {
    const port = await listen({ maxHeaderBytes: 2048, bodyLimitBytes: 1024 });
    const status = (headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          path: '/v1/licenses',
          method: body ? 'POST' : 'GET',
          headers,
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    expect((await status({ 'x-filler': 'a'.repeat(1000) })).status).toBe(401); // under the limit: reaches auth
    const tooLarge = await status({ 'x-filler': 'a'.repeat(4000) });
    expect([tooLarge.status, JSON.parse(tooLarge.body).code]).toEqual([431, 'HEADERS_TOO_LARGE']);
    const big = await status(
      { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      JSON.stringify({ license: 'a'.repeat(2000) }),
    );
    expect([big.status, JSON.parse(big.body).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('cuts a client that trickles its headers off after headersTimeoutMs (slowloris)', async () => {
    const port = await listen({ headersTimeoutMs: 300, requestTimeoutMs: 5000 });
    const started = performance.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      socket.on('data', (c) => {
        text += c.toString();
      });
      socket.on('close', () => resolve(text));
    });
    const elapsed = performance.now() - started;
    console.error(`[timing] slowloris cut after ${elapsed.toFixed(0)} ms (bounds 300-2500 ms)`);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    // headersTimeoutMs is 300 and the server sweeps every second (not every 30 s), so by design 300-1,300 ms.
    // bound 2500 ms: worst measured 602 ms (319-602 ms, 4 runs on 2026-12-06, one beside a CPU-bound
    // process).
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2500); // swept every second, not every 30 s
  });
});
