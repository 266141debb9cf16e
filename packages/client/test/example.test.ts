import { createClient } from '@leasehold/client';
import { FakeCluster, ManualClock } from '@leasehold/client/testing';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
// The example a vendor copies, run against the test harness a vendor would use for it.
import { startLicensing } from '../examples/licensed-app.mjs';

async function app(features: Record<string, number>, vendor?: { vendorKeys: JWK }) {
  const clock = new ManualClock();
  const T0 = clock.now();
  const cluster = await FakeCluster.start({
    features,
    ttlSeconds: 60,
    graceSeconds: 600,
    now: () => T0 + clock.monotonic(),
    clock,
  });
  const client = createClient({
    ...cluster.clientOptions(),
    ...vendor,
    clientId: 'workstation-7',
    clock,
    discovery: false,
  });
  const screen: string[] = [];
  const ui = {
    unlocked: () => screen.push('unlocked'),
    warn: (message: string) => screen.push(`warn: ${message}`),
    locked: (message: string) => screen.push(`locked: ${message}`),
  };
  // The example's retry wait runs on the test's clock too.
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const cancel = clock.setTimer(resolve, ms);
      signal.addEventListener('abort', () => {
        cancel();
        resolve();
      });
    });
  const licensing = await startLicensing({ client, feature: 'solver', ui, retryMs: 30_000, sleep });
  await clock.advance(0);
  return { clock, cluster, client, screen, licensing };
}

describe('examples/licensed-app.mjs', () => {
  it('unlocks at start, works through an outage on grace, locks after it, unlocks when back, releases on exit', async () => {
    const { clock, cluster, client, screen, licensing } = await app({ solver: 1 });
    expect(screen).toEqual(['unlocked']);
    expect(client.isEntitled('solver')).toBe(true);

    cluster.setAllModes('down');
    await clock.advance(25_000);
    expect(screen.at(-1)).toBe('warn: license server unreachable; solver keeps working offline for 11 min');
    expect(client.isEntitled('solver')).toBe(true);

    await clock.advance(660_000);
    expect(screen.at(-1)).toBe('locked: the solver license is offline too long (unreachable)');
    expect(client.isEntitled('solver')).toBe(false);

    cluster.setAllModes('up');
    await clock.advance(31_000);
    expect(screen.at(-1)).toBe('unlocked');
    expect(client.isEntitled('solver')).toBe(true);

    await clock.run(licensing.stop());
    expect(cluster.inUse('solver')).toBe(0);
  });

  it('waits for a seat when all are taken, and unlocks when one frees', async () => {
    const { clock, cluster, client, screen, licensing } = await app({ solver: 1 });
    // A second installation starts while the first holds the only seat.
    const second = createClient({
      ...cluster.clientOptions(),
      clientId: 'workstation-8',
      clock,
      discovery: false,
    });
    const shown: string[] = [];
    const waiting = await startLicensing({
      client: second,
      feature: 'solver',
      ui: {
        unlocked: () => shown.push('unlocked'),
        warn: () => undefined,
        locked: (m: string) => shown.push(m),
      },
      sleep: (ms: number, signal: AbortSignal) =>
        new Promise<void>((resolve) => {
          const cancel = clock.setTimer(resolve, ms);
          signal.addEventListener('abort', () => {
            cancel();
            resolve();
          });
        }),
    });
    await clock.advance(0);
    expect(shown).toEqual(['all 1 seats of solver are in use; waiting for one']);
    expect(second.isEntitled('solver')).toBe(false);
    // The first installation exits; the second gets the seat at its next try.
    await clock.run(licensing.stop());
    expect(client.isEntitled('solver')).toBe(false);
    expect(screen).toEqual(['unlocked']);
    await clock.advance(30_000);
    expect(shown.at(-1)).toBe('unlocked');
    expect(second.isEntitled('solver')).toBe(true);
    await clock.run(waiting.stop());
    expect(cluster.inUse('solver')).toBe(0);
  });

  it('gives up at once on a definitive refusal (a feature the license does not grant)', async () => {
    const { clock, screen, client } = await app({ other: 1 });
    expect(screen).toEqual(['locked: solver is not licensed here: fake node: FEATURE_NOT_LICENSED']);
    expect(client.isEntitled('solver')).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stays locked for good on a license server whose grants do not chain to the vendor key', async () => {
    // The product's key is another vendor's: this server's license is not one the vendor signed.
    const other = (await FakeCluster.start()).vendorKeys;
    const { clock, screen, client, cluster } = await app({ solver: 1 }, { vendorKeys: other });
    expect(screen).toEqual(['locked: this license server holds no license from the vendor of solver']);
    expect(client.isEntitled('solver')).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    expect(cluster.requests.filter((r) => r.path === '/v1/leases')).toHaveLength(1);
  });
});
