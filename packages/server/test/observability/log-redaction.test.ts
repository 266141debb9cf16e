import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { LeaseholdError } from '@leasehold/domain';
import { LOG_REDACT } from '@leasehold/server/internal';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../helpers/test-app.js';

/** Collects every log line a pino logger writes. */
function logSink(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logs: JSON with request ids, no secrets', () => {
  let t: TestApp;
  afterEach(() => t?.close());

  it('an install, checkout, renewal, token creation and failures log no token, license or key', async () => {
    const sink = logSink();
    t = await makeTestApp({ deps: { logger: { level: 'trace', redact: LOG_REDACT, stream: sink.stream } } });
    const secrets: string[] = [ADMIN_TOKEN];

    const license = await t.vendor.issue();
    secrets.push(license, t.vendor.privatePem);
    expect((await t.install(license)).statusCode).toBe(201);
    const created = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1', name: 'ci' },
    });
    expect(created.statusCode).toBe(201);
    const clientToken = created.json().token as string;
    secrets.push(clientToken);
    const requestId = randomUUID();
    const checkout = await t.checkout({ requestId }, clientToken);
    expect(checkout.statusCode).toBe(201);
    secrets.push(checkout.json().token as string);
    const renewed = await t.call({
      method: 'POST',
      url: `/v1/leases/${checkout.json().id}/renew?client=client-1`,
      token: clientToken,
    });
    secrets.push(renewed.json().token as string);
    // Failures: a wrong token, a malformed and a replayed license, a store that is gone (5xx: logged
    // with its error).
    await t.call({ method: 'GET', url: '/v1/licenses', token: `${clientToken}x` });
    await t.call({ method: 'POST', url: '/v1/licenses', payload: { license: `${license}x` } });
    await t.call({
      method: 'POST',
      url: '/v1/licenses',
      payload: { license: license.split('.').reverse().join('.') },
    });
    for (const key of await t.store.listSigningKeys()) secrets.push(key.privatePem);
    await t.store.close();
    expect((await t.install(license)).statusCode).toBe(503);
    expect((await t.checkout({ requestId }, clientToken)).statusCode).toBe(503);

    const text = sink.text();
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(20);
      expect(text).not.toContain(secret);
      // PEM bodies and JWS parts on their own (a log line could carry a fragment).
      for (const part of secret.split(/[.\n]/).filter((p) => p.length > 40)) expect(text).not.toContain(part);
    }
    const lines = sink.lines();
    // Every request logged its start and end with the request id the client saw.
    const completed = lines.filter((l) => l.msg === 'request completed');
    expect(completed.length).toBeGreaterThanOrEqual(9);
    for (const line of completed) expect(typeof line.reqId).toBe('string');
    expect(lines.some((l) => l.msg === 'request failed' && l.level === 50)).toBe(true);
    expect(lines.some((l) => l.msg === 'seat checked out' && l.reqId !== undefined)).toBe(true);
  });

  it('a client-chosen x-request-id is the id in the logs and in the problem body', async () => {
    const sink = logSink();
    t = await makeTestApp({ deps: { logger: { level: 'info', redact: LOG_REDACT, stream: sink.stream } } });
    const res = await t.call({
      method: 'GET',
      url: '/v1/leases/nope',
      headers: { 'x-request-id': 'trace-me-42' },
    });
    expect(res.json().requestId).toBe('trace-me-42');
    expect(sink.lines().filter((l) => l.reqId === 'trace-me-42').length).toBeGreaterThanOrEqual(2);
  });

  it('a malformed client x-request-id is replaced, never echoed into logs or answers', async () => {
    const sink = logSink();
    t = await makeTestApp({ deps: { logger: { level: 'info', redact: LOG_REDACT, stream: sink.stream } } });
    const hostile = [
      'evil"} {"level":60,"msg":"forged',
      'x'.repeat(129),
      'ünïcode',
      '-leading-dash',
      '../../etc/passwd',
      '%0d%0aSet-Cookie:x=1',
    ];
    for (const id of hostile) {
      const res = await t.call({ method: 'GET', url: '/v1/leases/nope', headers: { 'x-request-id': id } });
      const requestId = res.json().requestId as string;
      expect(requestId).not.toBe(id);
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    const text = sink.text();
    for (const id of hostile) expect(text).not.toContain(id);
    // Well-formed tracing ids (a W3C trace id, a UUID) are kept.
    for (const id of ['4bf92f3577b34da6a3ce929d0e0e4736', randomUUID(), 'svc-42:7.1_a']) {
      const res = await t.call({ method: 'GET', url: '/v1/leases/nope', headers: { 'x-request-id': id } });
      expect(res.json().requestId).toBe(id);
    }
  });

  it('the redaction paths cover secrets wherever our code puts them in a log object', () => {
    const sink = logSink();
    const log = pino({ redact: LOG_REDACT }, sink.stream);
    const secret = 'S3CRET-VALUE-that-must-not-appear';
    log.info({ req: { headers: { authorization: `Bearer ${secret}`, cookie: secret } } }, 'headers');
    log.info(
      { token: secret, license: secret, privatePem: secret, kek: secret, adminToken: secret },
      'top level',
    );
    log.info({ lease: { token: secret }, body: { license: secret }, key: { privatePem: secret } }, 'nested');
    log.error({ err: new LeaseholdError('LICENSE_MALFORMED', 'bad', { license: secret }) }, 'error details');
    log.error({ err: Object.assign(new Error('wrapped'), { token: secret }) }, 'error property');
    const lines = sink
      .text()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).not.toContain(secret);
    expect(sink.text()).toContain('[Redacted]');
  });
});
