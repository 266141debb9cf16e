import { randomUUID } from 'node:crypto';
import { LeaseSweeper } from '@leasehold/server/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';
import { parseExposition, sampleValue } from './exposition.js';

const silent = { debug() {}, info() {}, warn() {} } as never;

async function scrape(t: TestApp) {
  const res = await t.call({ method: 'GET', url: '/metrics', token: null });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.body, samples: parseExposition(res.body) };
}

describe('metrics count exactly what happened', () => {
  let t: TestApp;
  afterEach(() => t?.close());

  it('N checkouts, M denials, renewals, check-ins and expiries', async () => {
    t = await makeTestApp();
    expect((await t.install()).statusCode).toBe(201); // 3 seats of `solver`
    const leases: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.checkout({ client: { id: `client-${i}` } });
      expect(res.statusCode).toBe(201);
      leases.push(res.json().id);
    }
    const denials = 5;
    for (let i = 0; i < denials; i++) {
      const res = await t.checkout({ client: { id: `late-${i}` } });
      expect(res.json().code).toBe('SEATS_EXHAUSTED');
    }
    // An idempotent replay answers 200 and grants nothing new.
    const requestId = randomUUID();
    const first = await t.call({
      method: 'DELETE',
      url: `/v1/leases/${leases[0]}`,
    });
    expect(first.statusCode).toBe(200);
    const granted = await t.checkout({ client: { id: 'again' }, requestId });
    expect(granted.statusCode).toBe(201);
    expect((await t.checkout({ client: { id: 'again' }, requestId })).statusCode).toBe(200);
    for (const id of leases.slice(1)) {
      expect((await t.call({ method: 'POST', url: `/v1/leases/${id}/renew` })).statusCode).toBe(200);
    }

    let { samples, text } = await scrape(t);
    expect(
      sampleValue(samples, 'leasehold_checkouts_granted_total', { license: 'lic-1', feature: 'solver' }),
    ).toBe(4);
    expect(sampleValue(samples, 'leasehold_checkouts_denied_total', { reason: 'SEATS_EXHAUSTED' })).toBe(
      denials,
    );
    expect(sampleValue(samples, 'leasehold_checkouts_denied_total')).toBe(denials);
    expect(sampleValue(samples, 'leasehold_leases_renewed_total')).toBe(2);
    expect(sampleValue(samples, 'leasehold_leases_released_total')).toBe(1);
    expect(sampleValue(samples, 'leasehold_leases_expired_total')).toBe(0);
    const seat = { license: 'lic-1', feature: 'solver' };
    expect(sampleValue(samples, 'leasehold_seats_licensed', seat)).toBe(3);
    expect(sampleValue(samples, 'leasehold_seats_in_use', seat)).toBe(3);
    expect(sampleValue(samples, 'leasehold_seats_free', seat)).toBe(0);
    expect(sampleValue(samples, 'leasehold_store_up')).toBe(1);

    // Requests by route pattern and status; failures by code.
    const checkouts = { method: 'POST', route: '/v1/leases' };
    expect(sampleValue(samples, 'leasehold_http_requests_total', { ...checkouts, status: '201' })).toBe(4);
    expect(sampleValue(samples, 'leasehold_http_requests_total', { ...checkouts, status: '409' })).toBe(
      denials,
    );
    expect(sampleValue(samples, 'leasehold_http_requests_total', { ...checkouts, status: '200' })).toBe(1);
    expect(
      sampleValue(samples, 'leasehold_http_request_duration_seconds_count', { ...checkouts, status: '201' }),
    ).toBe(4);
    expect(
      sampleValue(samples, 'leasehold_http_request_failures_total', {
        ...checkouts,
        code: 'SEATS_EXHAUSTED',
      }),
    ).toBe(denials);
    expect(
      sampleValue(samples, 'leasehold_http_requests_total', {
        method: 'POST',
        route: '/v1/leases/:id/renew',
        status: '200',
      }),
    ).toBe(2);
    // Store operations: every checkout reached the store once (4 grants + 1 replay + M denials).
    expect(
      sampleValue(samples, 'leasehold_store_operation_duration_seconds_count', { op: 'acquireSeat' }),
    ).toBe(5 + denials);
    expect(sampleValue(samples, 'leasehold_store_operation_errors_total', { op: 'acquireSeat' })).toBe(
      denials,
    );
    // Bounded labels: no client ids, no lease ids, no raw URLs.
    for (const secretish of ['client-1', 'late-0', 'again', ...leases]) expect(text).not.toContain(secretish);

    // Nobody renews for longer than the TTL (60 s): the sweeper expires the three live leases.
    await t.clock.advance(61_000);
    const sweeper = new LeaseSweeper(t.app.metrics.meterStore(t.store), t.clock, silent, {
      intervalMs: 1000,
      retentionMs: 0,
    });
    expect(await sweeper.sweepOnce()).toBe(3);
    ({ samples } = await scrape(t));
    expect(sampleValue(samples, 'leasehold_leases_expired_total')).toBe(3);
    expect(sampleValue(samples, 'leasehold_seats_in_use', seat)).toBe(0);
    expect(sampleValue(samples, 'leasehold_seats_free', seat)).toBe(3);
  });

  it('labels requests no route matched with one value, whatever the URL', async () => {
    t = await makeTestApp();
    for (const url of ['/nope', `/v1/x/${randomUUID()}`, '/v1/leases/abc/def']) {
      expect((await t.call({ method: 'GET', url })).statusCode).toBe(404);
    }
    const { samples, text } = await scrape(t);
    expect(sampleValue(samples, 'leasehold_http_requests_total', { route: 'unmatched', status: '404' })).toBe(
      3,
    );
    expect(
      sampleValue(samples, 'leasehold_http_request_failures_total', {
        route: 'unmatched',
        code: 'ROUTE_NOT_FOUND',
      }),
    ).toBe(3);
    expect(text).not.toContain('/nope');
  });

  it('counts auth failures by their code and store failures as 5xx', async () => {
    t = await makeTestApp();
    expect((await t.call({ method: 'GET', url: '/v1/licenses', token: 'lh_admin_wrong' })).statusCode).toBe(
      401,
    );
    await t.store.close();
    expect((await t.call({ method: 'GET', url: '/v1/licenses' })).statusCode).toBe(503);
    const { samples } = await scrape(t);
    const route = { method: 'GET', route: '/v1/licenses' };
    expect(
      sampleValue(samples, 'leasehold_http_request_failures_total', { ...route, code: 'UNAUTHENTICATED' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'leasehold_http_request_failures_total', { ...route, code: 'STORE_UNAVAILABLE' }),
    ).toBe(1);
    expect(sampleValue(samples, 'leasehold_store_up')).toBe(0);
    expect(
      sampleValue(samples, 'leasehold_store_operation_errors_total', { code: 'STORE_UNAVAILABLE' }),
    ).toBeGreaterThan(0);
    // A store that cannot answer drops the seat series instead of reporting stale numbers.
    expect(sampleValue(samples, 'leasehold_seats_licensed')).toBeUndefined();
  });

  it('each app counts only its own traffic (a registry per app)', async () => {
    t = await makeTestApp();
    const other = await makeTestApp();
    try {
      await other.install();
      const { samples } = await scrape(t);
      expect(
        sampleValue(samples, 'leasehold_http_requests_total', { route: '/v1/licenses' }),
      ).toBeUndefined();
      expect(t.app.metrics.registry).not.toBe(other.app.metrics.registry);
    } finally {
      await other.close();
    }
  });
});
