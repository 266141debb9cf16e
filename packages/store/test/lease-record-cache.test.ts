import type { Lease } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';
import { LeaseRecordCache } from '../src/etcd/lease-record-cache.js';

// The bound and the eviction rule of the lease record cache (lease-record-cache.ts), without etcd: what
// a cached entry changes in a renewal is checked against a real etcd in etcd-lease-cache.test.ts.
describe('LeaseRecordCache bounds', () => {
  /** A lease written at `at` whose seat is reserved until `until`. */
  const lease = (id: string, at = 0, until = 1000) =>
    ({ id, renewedAt: at, reservedUntil: until }) as unknown as Lease;
  const keyOf = (id: string) => `k/${id}`;

  it('answers the key, revision and lease remembered, once (a renewal takes its entry out)', () => {
    const cache = new LeaseRecordCache(2, keyOf);
    const a = lease('a');
    cache.remember(7, a);
    expect(cache.take('a')).toEqual({ key: 'k/a', modRevision: 7, lease: a });
    expect(cache.take('a')).toBeUndefined();
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1 });
  });

  it('a write of a lease already cached replaces its entry and moves it to the newest', () => {
    const cache = new LeaseRecordCache(2, keyOf);
    cache.remember(1, lease('a', 0, 100));
    cache.remember(2, lease('b', 0, 100));
    cache.remember(3, lease('a', 10, 110)); // a again: b is now the oldest
    cache.remember(4, lease('c', 200, 300)); // b's reservation ended before c's write: b makes room
    expect(cache.size).toBe(2);
    expect(cache.take('b')).toBeUndefined();
    expect(cache.take('a')?.modRevision).toBe(3);
    expect(cache.take('c')?.modRevision).toBe(4);
  });

  it('when full of live leases, keeps them and refuses the new write (no eviction of a live entry)', () => {
    const cache = new LeaseRecordCache(3, keyOf);
    for (const [i, id] of ['a', 'b', 'c'].entries()) cache.remember(i + 1, lease(id, i, 1000 + i));
    cache.remember(4, lease('d', 500, 1500)); // a is still reserved at 500
    expect(cache.size).toBe(3);
    expect(cache.stats.refused).toBe(1);
    expect(cache.take('d')).toBeUndefined();
    // A renewal of a cached lease takes its entry out and puts it back: the residents stay resident.
    expect(cache.take('a')).toBeDefined();
    cache.remember(5, lease('a', 600, 1600));
    expect(cache.take('a')?.modRevision).toBe(5);
  });

  it('cycling over more leases than it holds still skips reads for as many as it holds', () => {
    // Renewals come round in the order they were written; plain LRU eviction got no hit at all here.
    const capacity = 100;
    const cache = new LeaseRecordCache(capacity, keyOf);
    const ids = Array.from({ length: 300 }, (_, i) => `l${i}`);
    const ttl = 1000;
    let now = 0;
    for (const id of ids) cache.remember(1, lease(id, now, now + ttl));
    cache.stats.hits = 0;
    for (let round = 0; round < 5; round++) {
      for (const id of ids) {
        now += 1; // 300 renewals per 300 ms, well within the TTL
        cache.take(id);
        cache.remember(2, lease(id, now, now + ttl));
      }
    }
    expect(cache.size).toBe(capacity);
    expect(cache.stats.hits).toBe(5 * capacity);
  });

  it('entries of leases no longer renewed here age out once their reservation ran out', () => {
    const cache = new LeaseRecordCache(2, keyOf);
    cache.remember(1, lease('gone-1', 0, 100)); // renewed on another node from now on
    cache.remember(2, lease('gone-2', 0, 100));
    cache.remember(3, lease('new-1', 50, 150)); // both still reserved at 50: refused
    cache.remember(4, lease('new-2', 120, 220)); // past 100: the oldest makes room
    cache.remember(5, lease('new-3', 130, 230)); // and the next one
    expect(cache.take('gone-1')).toBeUndefined();
    expect(cache.take('gone-2')).toBeUndefined();
    expect(cache.take('new-1')).toBeUndefined();
    expect(cache.take('new-2')?.modRevision).toBe(4);
    expect(cache.take('new-3')?.modRevision).toBe(5);
  });

  it('forget drops an entry; size 0 keeps nothing', () => {
    const cache = new LeaseRecordCache(2, keyOf);
    cache.remember(1, lease('a'));
    cache.forget('a');
    expect(cache.take('a')).toBeUndefined();
    const off = new LeaseRecordCache(0, keyOf);
    off.remember(1, lease('a'));
    expect(off.size).toBe(0);
  });
});
