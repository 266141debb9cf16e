import { LatencyWindow } from '@leasehold/server/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

describe('app.metrics.summary() (the dashboard feed)', () => {
  let t: TestApp;
  afterEach(() => t?.close());

  it('counts every answered request, 5xx as errors, 4xx not', async () => {
    t = await makeTestApp();
    expect(t.app.metrics.summary()).toEqual({
      requestsTotal: 0,
      errorsTotal: 0,
      latencyMs: { p50: 0, p99: 0 },
    });
    expect((await t.install()).statusCode).toBe(201);
    expect((await t.checkout()).statusCode).toBe(201);
    expect((await t.call({ method: 'GET', url: '/v1/nope' })).statusCode).toBe(404);
    expect((await t.call({ method: 'GET', url: '/v1/licenses', token: null })).statusCode).toBe(401);
    await t.store.close(); // the store is gone: the next call fails with 503
    expect((await t.call({ method: 'GET', url: '/v1/licenses' })).statusCode).toBe(503);
    const s = t.app.metrics.summary();
    expect(s.requestsTotal).toBe(5);
    expect(s.errorsTotal).toBe(1);
    expect(s.latencyMs.p50).toBeGreaterThan(0);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
  });
});

describe('LatencyWindow', () => {
  it('computes nearest-rank percentiles over the last window only', () => {
    let now = 0;
    const w = new LatencyWindow(60_000, () => now, 16);
    for (let ms = 1; ms <= 100; ms++) w.record(ms); // 16 kept: 85..100
    expect(w.percentiles([0.5, 0.99, 1])).toEqual([92, 100, 100]);
    now = 30_000;
    w.record(1000);
    now = 60_001; // the first 100 samples are older than a minute now
    expect(w.percentiles([0.5, 0.99])).toEqual([1000, 1000]);
    now = 90_001;
    expect(w.percentiles([0.5])).toEqual([0]);
  });
});
