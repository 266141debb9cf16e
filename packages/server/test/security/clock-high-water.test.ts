import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor } from '@leasehold/devtools';
import { type LeaseholdError, ManualClock } from '@leasehold/domain';
import { ClockHighWater, HIGH_WATER_FILE } from '@leasehold/server/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, T0, type TestApp } from '../helpers/test-app.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-hwm-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  // maxRetries: a background mark write may still be landing in the directory (ENOTEMPTY).
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

const codeOf = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return (err as LeaseholdError).code;
  }
};

describe('clock high-water mark', () => {
  it('persists ahead in steps: one fsync per step of signing, and the file is never behind a signature', async () => {
    const clock = new ManualClock(T0);
    const path = join(tempDir(), HIGH_WATER_FILE);
    const mark = new ClockHighWater(clock, path, 1000);
    let signed = 0;
    for (let i = 0; i < 1000; i++) {
      await clock.advance(10); // 1,000 signatures over 10 s
      signed = await mark.admit();
      expect(Number(readFileSync(path, 'utf8'))).toBeGreaterThanOrEqual(signed);
    }
    // Marks T0 + 10 + k·1000 s, each written half a step before it is reached: ten for the ten steps signed,
    // and the eleventh, begun at T0 + 9.51 s, covering the next step. Counted once the writes have landed
    // (the count taken while the last was in flight depended on the disk's speed).
    await mark.flushed();
    expect(mark.writes).toBe(11);
    expect(mark.mark).toBe(T0 + 11_010);
    await mark.close();
  });

  it('writes the next step in the background half a step early, so steady signing never waits on the disk', async () => {
    const clock = new ManualClock(T0);
    const path = join(tempDir(), HIGH_WATER_FILE);
    const mark = new ClockHighWater(clock, path, 1000);
    await mark.admit(); // first signature: waits for the file (T0 + 1000)
    expect(mark.mark).toBe(T0 + 1000);
    await clock.advance(600); // past half the step: this admit returns at once and extends in the background
    await mark.admit();
    expect(mark.mark).toBe(T0 + 1000); // returned before the extension landed
    await mark.flushed(); // the background write, awaited instead of slept on
    expect(mark.mark).toBe(T0 + 2000);
    expect(Number(readFileSync(path, 'utf8'))).toBe(T0 + 2000);
    await clock.advance(500); // T0 + 1100: covered already, no wait, no write
    const writes = mark.writes;
    await mark.admit();
    expect(mark.writes).toBe(writes);
    await mark.close();
  });

  it('refuses a clock that went back, and signs again once it passes the mark', async () => {
    const clock = new ManualClock(T0);
    const mark = new ClockHighWater(clock, join(tempDir(), HIGH_WATER_FILE));
    await mark.admit();
    clock.setWall(T0 - 5000);
    let error: LeaseholdError | undefined;
    try {
      await mark.admit();
    } catch (err) {
      error = err as LeaseholdError;
    }
    expect(error?.code).toBe('CLOCK_BEHIND');
    expect(error?.retryable).toBe(true);
    expect(error?.details).toEqual({ behindMs: 5000 });
    clock.setWall(T0 + 1);
    expect(await mark.admit()).toBe(T0 + 1);
  });

  it('keeps the mark across a crash (no close): a restarted node with its clock set back refuses', async () => {
    const clock = new ManualClock(T0);
    const path = join(tempDir(), HIGH_WATER_FILE);
    await new ClockHighWater(clock, path).admit();
    clock.setWall(T0 - 60_000); // e.g. the RTC lost a minute over the reboot
    const restarted = new ClockHighWater(clock, path);
    expect(await codeOf(() => restarted.admit())).toBe('CLOCK_BEHIND');
    expect(restarted.behindBy()).toBeGreaterThanOrEqual(60_000);
  });

  it('a clean close writes the exact mark: a restart right after need not wait out the step', async () => {
    const clock = new ManualClock(T0);
    const path = join(tempDir(), HIGH_WATER_FILE);
    const first = new ClockHighWater(clock, path, 60_000);
    await first.admit();
    expect(first.mark).toBe(T0 + 60_000);
    await first.close();
    const second = new ClockHighWater(clock, path, 60_000);
    expect(second.mark).toBe(T0);
    expect(await second.admit()).toBe(T0);
  });

  it('an unreadable mark file stops the start instead of being taken as zero', async () => {
    const path = join(tempDir(), HIGH_WATER_FILE);
    writeFileSync(path, '');
    expect(await codeOf(() => new ClockHighWater(new ManualClock(T0), path))).toBe('CLOCK_BEHIND');
  });
});

describe('CLOCK_BEHIND over HTTP', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('checkout and renewal answer 503 CLOCK_BEHIND and /readyz fails while the clock is behind, also after a restart', async () => {
    const clock = new ManualClock(T0);
    const dataDir = tempDir();
    // One vendor across the restart: the reopened store re-verifies the license against its key.
    const vendor = await makeVendor(T0);
    const open = async () =>
      makeTestApp({
        clock,
        dataDir,
        vendor,
        deps: { clockHighWater: new ClockHighWater(clock, join(dataDir, HIGH_WATER_FILE)) },
      });
    t = await open();
    expect((await t.install()).statusCode).toBe(201);
    const lease = await t.checkout();
    expect(lease.statusCode).toBe(201);

    clock.setWall(T0 - 10 * 60_000);
    const refused = await t.checkout();
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ code: 'CLOCK_BEHIND', retryable: true });
    const renew = await t.call({ method: 'POST', url: `/v1/leases/${lease.json().id}/renew` });
    expect(renew.json().code).toBe('CLOCK_BEHIND');
    expect((await t.call({ method: 'GET', url: '/readyz', token: null })).json().code).toBe('CLOCK_BEHIND');
    // Nothing was written for the refused checkout: its seat is still free.
    const leases = await t.call({ method: 'GET', url: '/v1/leases' });
    expect(leases.json().leases).toHaveLength(1);

    await t.close(true); // crash-like: the mark file stays as written ahead
    t = await open();
    expect((await t.call({ method: 'GET', url: '/readyz', token: null })).statusCode).toBe(503);
    expect((await t.checkout()).json().code).toBe('CLOCK_BEHIND');

    clock.setWall(T0 + 2000); // past the mark (written at most one step ahead)
    expect((await t.call({ method: 'GET', url: '/readyz', token: null })).statusCode).toBe(200);
    expect((await t.checkout()).statusCode).toBe(201);
  });
});
