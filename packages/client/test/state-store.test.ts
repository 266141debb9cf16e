import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, fileStateStore, type StateStore } from '@leasehold/client';
import { FakeCluster, ManualClock } from '@leasehold/client/testing';
import { afterAll, describe, expect, it } from 'vitest';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/** A fake cluster with one-minute leases and five minutes of grace, on the test's manual clock. */
const clusterOn = (clock: ManualClock) =>
  FakeCluster.start({ ttlSeconds: 60, graceSeconds: 300, now: () => T0 + clock.monotonic() });

/** The client of machine `m1` talking only to `cluster`, with its state in `stateStore` when given. */
const machine = (cluster: FakeCluster, clock: ManualClock, stateStore?: StateStore) =>
  createClient({
    ...cluster.clientOptions(),
    clientId: 'm1',
    clock,
    discovery: false,
    ...(stateStore === undefined ? {} : { stateStore }),
  });

function memoryStore(): StateStore & { state: string | undefined } {
  const store = {
    state: undefined as string | undefined,
    load: () => store.state,
    save: (state: string) => {
      store.state = state;
    },
  };
  return store;
}

describe('trusted time across restarts', () => {
  it('a clock set back two days does not revive an expired token after a restart (persisted high-water mark)', async () => {
    const store = memoryStore();
    // First run: a checkout at T0, then the machine runs until 10 minutes after its grace ended.
    const first = new ManualClock(T0);
    const cluster = await clusterOn(first);
    const a = machine(cluster, first, store);
    const lease = await first.run(a.checkout('app', { autoRenew: false }));
    const token = lease.token;
    await first.advance(60_000 + 300_000 + 600_000);
    await first.run(a.close());
    expect(JSON.parse(store.state ?? '{}')).toMatchObject({ v: 1, hwm: T0 + 960_000 });

    // Second run, offline, with the wall clock set back two days: by that clock the token is young.
    const second = new ManualClock(T0 + 960_000 - 2 * DAY);
    cluster.setAllModes('down');
    const b = machine(cluster, second, store);
    await expect(b.verify(token, { withGrace: true })).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });

    // Without the state store the same check is fooled: the reason to give one where the host allows.
    const c = machine(cluster, second);
    await expect(second.run(c.verify(token, { withGrace: true }))).rejects.toMatchObject({
      code: 'ALL_SERVERS_FAILED', // and it has no JWK Set either: nothing to verify with offline
    });
    const jwks = cluster.jwks();
    const naive = await import('@leasehold/client').then((m) =>
      m.verifyLeaseToken(token, jwks, { withGrace: true, now: second.now() }),
    );
    expect(naive.jti).toBe(lease.id);
  });

  it('verifies offline with the JWK Set kept in the state store', async () => {
    const store = memoryStore();
    const clock = new ManualClock(T0);
    const cluster = await clusterOn(clock);
    const a = machine(cluster, clock, store);
    const lease = await clock.run(a.checkout('app'));
    cluster.setAllModes('down');
    const b = machine(cluster, clock, store);
    await clock.advance(100_000); // past exp, within grace
    expect((await b.verify(lease.token, { withGrace: true })).jti).toBe(lease.id);
    await expect(b.verify(lease.token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(b.verify(lease.token, { withGrace: true, clientId: 'other' })).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });
  });

  it('starts without its state when the store fails to load', async () => {
    const clock = new ManualClock(T0);
    const cluster = await FakeCluster.start({ now: () => clock.now() });
    const warnings: string[] = [];
    const client = createClient({
      ...cluster.clientOptions(),
      clientId: 'm1',
      clock,
      discovery: false,
      logger: { warn: (_fields, message) => warnings.push(message) },
      stateStore: {
        load: () => {
          throw new Error('unreadable');
        },
        save: () => undefined,
      },
    });
    const lease = await clock.run(client.checkout('app'));
    expect(lease.status).toBe('active');
    expect(warnings).toContain('could not read the state store; starting without it');
  });
});

describe('fileStateStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads nothing before the first write, then what was written last, and leaves no temporary files', async () => {
    const path = join(dir, 'state.json');
    const store = fileStateStore(path);
    expect(await store.load()).toBeUndefined();
    await Promise.all([store.save('{"n":1}'), store.save('{"n":2}'), store.save('{"n":3}')]);
    expect(await store.load()).toBe('{"n":3}');
    expect(readFileSync(path, 'utf8')).toBe('{"n":3}');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('refuses an empty path', () => {
    expect(() => fileStateStore('')).toThrow(TypeError);
  });
});
