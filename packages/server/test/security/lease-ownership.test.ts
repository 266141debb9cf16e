import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Issue 11: "a client token can renew, release or replay-checkout any lease of its license (one seat can
 * serve several machines by replaying another client's checkout)", and the idempotency key was shared
 * across licenses with a 409 that named the other license. Two machines here share one client token, as
 * every installation of a product does.
 */
describe('leases belong to their client', () => {
  let t: TestApp;
  let token: string;
  const machineA = 'machine-a';
  const machineB = 'machine-b';

  beforeEach(async () => {
    t = await makeTestApp();
    expect((await t.install(await t.vendor.issue({ features: { solver: { seats: 3 } } }))).statusCode).toBe(
      201,
    );
    const res = await t.call({
      method: 'POST',
      url: '/v1/tokens',
      payload: { scope: 'client', license: 'lic-1', name: 'product' },
    });
    token = res.json().token;
  });
  afterEach(() => t.close());

  const leaseOfA = async () => {
    const requestId = randomUUID();
    const res = await t.checkout({ client: { id: machineA }, requestId }, token);
    expect(res.statusCode).toBe(201);
    return { id: res.json().id as string, requestId };
  };
  const as = (client: string | undefined) => (client === undefined ? '' : `?client=${client}`);

  it('another client with the same token cannot renew, release or read the lease', async () => {
    const a = await leaseOfA();
    for (const client of [machineB, undefined]) {
      const renew = await t.call({ method: 'POST', url: `/v1/leases/${a.id}/renew${as(client)}`, token });
      expect([renew.statusCode, renew.json().code]).toEqual([403, 'LEASE_NOT_OWNED']);
      const release = await t.call({ method: 'DELETE', url: `/v1/leases/${a.id}${as(client)}`, token });
      expect([release.statusCode, release.json().code]).toEqual([403, 'LEASE_NOT_OWNED']);
      const read = await t.call({ method: 'GET', url: `/v1/leases/${a.id}${as(client)}`, token });
      expect([read.statusCode, read.json().code]).toEqual([403, 'LEASE_NOT_OWNED']);
      // Nothing of A's checkout in any of the answers: not its request id, not its client id.
      for (const answer of [renew.body, release.body, read.body]) {
        expect(answer).not.toContain(a.requestId);
      }
    }
    // The lease is untouched: A still holds it, and renews and releases it.
    const own = await t.call({ method: 'POST', url: `/v1/leases/${a.id}/renew${as(machineA)}`, token });
    expect([own.statusCode, own.json().state]).toEqual([200, 'active']);
    const mine = await t.call({ method: 'GET', url: `/v1/leases/${a.id}${as(machineA)}`, token });
    expect(mine.json().requestId).toBe(a.requestId);
    const done = await t.call({ method: 'DELETE', url: `/v1/leases/${a.id}${as(machineA)}`, token });
    expect([done.statusCode, done.json().state]).toEqual([200, 'released']);
  });

  it("replaying another client's request id grants that client nothing of the other's lease", async () => {
    const a = await leaseOfA();
    const replay = await t.checkout({ client: { id: machineB }, requestId: a.requestId }, token);
    expect(replay.statusCode).toBe(201); // a checkout of its own, on a seat of its own
    expect(replay.json().id).not.toBe(a.id);
    const usage = (await t.call({ method: 'GET', url: '/v1/licenses/lic-1' })).json();
    expect(usage.entitlements).toEqual([{ feature: 'solver', seats: 3, inUse: 2 }]);
  });

  it('an admin may act on any lease, with or without naming its client', async () => {
    const a = await leaseOfA();
    const wrong = await t.call({ method: 'POST', url: `/v1/leases/${a.id}/renew${as(machineB)}` });
    expect(wrong.json().code).toBe('LEASE_NOT_OWNED');
    expect((await t.call({ method: 'POST', url: `/v1/leases/${a.id}/renew` })).statusCode).toBe(200);
    expect((await t.call({ method: 'DELETE', url: `/v1/leases/${a.id}` })).statusCode).toBe(200);
  });
});

describe('idempotency keys are per license', () => {
  let t: TestApp;
  const tokens: Record<string, string> = {};

  beforeEach(async () => {
    t = await makeTestApp();
    const features = { solver: { seats: 3 }, viewer: { seats: 3 } };
    expect((await t.install(await t.vendor.issue({ lid: 'lic-1', features }))).statusCode).toBe(201);
    expect((await t.install(await t.vendor.issue({ lid: 'lic-secret', features }))).statusCode).toBe(201);
    for (const license of ['lic-1', 'lic-secret']) {
      const res = await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'client', license } });
      tokens[license] = res.json().token;
    }
  });
  afterEach(() => t.close());

  it('one (client id, request id) under two licenses is two checkouts; a conflict names no license', async () => {
    const body = { client: { id: 'shared-id' }, requestId: 'request-0001' };
    const secret = await t.checkout({ ...body, feature: 'solver' }, tokens['lic-secret']);
    expect([secret.statusCode, secret.json().license]).toEqual([201, 'lic-secret']);
    // The same key under lic-1, even for another feature: new to lic-1, so no conflict and no leak.
    const mine = await t.checkout({ ...body, feature: 'viewer' }, tokens['lic-1']);
    expect([mine.statusCode, mine.json().license]).toEqual([201, 'lic-1']);
    // A retry within lic-1 is the same lease; another checkout with its id is a conflict.
    const retry = await t.checkout({ ...body, feature: 'viewer' }, tokens['lic-1']);
    expect([retry.statusCode, retry.json().id]).toEqual([200, mine.json().id]);
    const conflict = await t.checkout({ ...body, feature: 'solver' }, tokens['lic-1']);
    expect([conflict.statusCode, conflict.json().code]).toEqual([409, 'REQUEST_ID_CONFLICT']);
    expect(conflict.body).not.toMatch(/lic-|viewer|solver/);
  });
});
