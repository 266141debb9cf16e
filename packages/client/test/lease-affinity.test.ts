import { describe, expect, it } from 'vitest';
import { LeaseAffinity } from '../src/client/lease-affinity.js';

describe('lease affinity: the node that served each lease last', () => {
  it('remembers the latest server per lease, votes for a batch, and forgets released leases', () => {
    const a = new LeaseAffinity();
    a.served('l1', 'http://a/');
    a.served('l2', 'http://b/');
    a.served('l3', 'http://b/');
    expect(a.of('l1')).toBe('http://a/');
    expect(a.forLeases(['l1', 'l2', 'l3', 'unknown'])).toBe('http://b/');
    expect(a.forLeases(['unknown'])).toBeUndefined();
    a.served('l1', 'http://c/'); // renewed elsewhere (failover): the newer server counts
    expect(a.of('l1')).toBe('http://c/');
    a.forget('l2');
    a.forget('l3');
    expect(a.forLeases(['l1', 'l2', 'l3'])).toBe('http://c/');
  });

  it('stays bounded: the least recently served lease goes first', () => {
    const a = new LeaseAffinity();
    for (let i = 0; i <= 10_000; i++) a.served(`l${i}`, 'http://a/');
    expect(a.of('l0')).toBeUndefined();
    expect(a.of('l1')).toBe('http://a/');
    expect(a.of('l10000')).toBe('http://a/');
  });
});
