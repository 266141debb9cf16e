import { ManualClock } from '@leasehold/domain';
import type { ApiTokenRecord, EpochState, LeaseStore } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../src/http/token-cache.js';
import { EpochView } from '../src/replication/epoch-view.js';

/** A store read that the test answers by hand, counting calls. */
function manualRead<T>() {
  const pending: { resolve(value: T): void; reject(err: unknown): void }[] = [];
  return {
    calls: () => pending.length,
    read: () => new Promise<T>((resolve, reject) => pending.push({ resolve, reject })),
    answer: (value: T, index = pending.length - 1) => pending[index]?.resolve(value),
    fail: (err: unknown, index = pending.length - 1) => pending[index]?.reject(err),
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('EpochView: one store read for every caller that finds the copy old', () => {
  it('shares one read among concurrent callers, then serves the copy until it ages', async () => {
    const clock = new ManualClock();
    const reads = manualRead<EpochState>();
    const view = new EpochView({ epochState: reads.read }, clock, 1000);
    const many = Array.from({ length: 10 }, () => view.current());
    expect(reads.calls()).toBe(1);
    reads.answer({ epoch: 3 } as EpochState);
    expect((await Promise.all(many)).map((s) => s.epoch)).toEqual(Array(10).fill(3));
    await clock.advance(999);
    expect((await view.current()).epoch).toBe(3);
    expect(reads.calls()).toBe(1);
    await clock.advance(1);
    const again = [view.current(), view.current()];
    expect(reads.calls()).toBe(2);
    reads.fail(new Error('etcd away'));
    // A failed read keeps the last epoch, for every caller waiting on it, and the next caller reads again.
    expect((await Promise.all(again)).map((s) => s.epoch)).toEqual([3, 3]);
    void view.current();
    expect(reads.calls()).toBe(3);
  });
});

describe('TokenCache: concurrent lookups share a read; a token in use is read again ahead of time', () => {
  const record = (id: string, revokedAt?: number) => ({ id, revokedAt }) as unknown as ApiTokenRecord;
  const cacheOver = (reads: ReturnType<typeof manualRead<ApiTokenRecord | undefined>>, clock: ManualClock) =>
    new TokenCache({ findTokenByHash: reads.read } as unknown as LeaseStore, 1000, () => clock.monotonic());

  it('sends one read for concurrent misses of one hash', async () => {
    const clock = new ManualClock();
    const reads = manualRead<ApiTokenRecord | undefined>();
    const cache = cacheOver(reads, clock);
    const lookups = [cache.find('h'), cache.find('h'), cache.find('h')];
    expect(reads.calls()).toBe(1);
    reads.answer(record('t1'));
    expect((await Promise.all(lookups)).map((r) => r?.id)).toEqual(['t1', 't1', 't1']);
  });

  it('refreshes past half the TTL without making the request wait, and never extends an entry', async () => {
    const clock = new ManualClock();
    const reads = manualRead<ApiTokenRecord | undefined>();
    const cache = cacheOver(reads, clock);
    const first = cache.find('h');
    reads.answer(record('t1'));
    await first;
    await clock.advance(400);
    expect((await cache.find('h'))?.id).toBe('t1');
    expect(reads.calls()).toBe(1); // under half the TTL: no read
    await clock.advance(200);
    expect((await cache.find('h'))?.id).toBe('t1'); // answered from the entry at once...
    expect(reads.calls()).toBe(2); // ...while a read runs behind it
    expect((await cache.find('h'))?.id).toBe('t1');
    expect(reads.calls()).toBe(2); // one refresh at a time
    reads.answer(record('t1', 5)); // revoked meanwhile (through another node)
    await flush();
    // The refresh found it revoked: the entry is gone and the next lookup reads.
    const next = cache.find('h');
    expect(reads.calls()).toBe(3);
    reads.answer(record('t1', 5));
    expect((await next)?.revokedAt).toBe(5);
  });

  it('drops a read in flight when the token is forgotten (revoked through this node)', async () => {
    const clock = new ManualClock();
    const reads = manualRead<ApiTokenRecord | undefined>();
    const cache = cacheOver(reads, clock);
    const before = cache.find('h');
    cache.forget('h');
    reads.answer(record('t1')); // read before the revocation: live
    expect((await before)?.id).toBe('t1'); // the request in flight gets what it read...
    const after = cache.find('h'); // ...but nothing was kept: the next one reads
    expect(reads.calls()).toBe(2);
    reads.answer(record('t1', 9));
    expect((await after)?.revokedAt).toBe(9);
  });
});
