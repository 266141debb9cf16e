import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Compare, ReadOp, WriteOp } from '../src/etcd/etcd-gateway.js';
import { conflicts, type Footprint, FootprintUnion, footprintOf } from '../src/etcd/txn-footprint.js';

const keys = ['a', 'k/1', 'k/2', 'k/10', 'k0', 'm/x', 'm/y'];
const key = fc.constantFrom(...keys);
const compare: fc.Arbitrary<Compare> = fc.oneof(
  key.map((k) => ({ key: k, target: 'Mod' as const, equals: 1 })),
  key.map((k) => ({ key: k, target: 'Value' as const, equals: 'x' })),
  fc.constant({ key: 'k/', within: 'k/', target: 'Create' as const, equals: 0 as const }),
  fc.constant({ key: 'm/', within: 'm/', target: 'Mod' as const, below: 9 }),
);
const write: fc.Arbitrary<WriteOp> = fc.oneof(
  key.map((k) => ({ put: k, value: 'v' })),
  key.map((k) => ({ delete: k })),
);
const read: fc.Arbitrary<ReadOp> = fc.oneof(
  key.map((k) => ({ key: k })),
  fc.constant({ prefix: 'k/' }),
  fc.constant({ from: 'k/10', within: 'k/' }),
  fc.constant({ from: 'a', to: 'k0', limit: 5 }),
);
const footprint: fc.Arbitrary<Footprint> = fc
  .tuple(
    fc.array(compare, { maxLength: 3 }),
    fc.array(write, { maxLength: 3 }),
    fc.array(read, { maxLength: 2 }),
  )
  .map(([c, w, r]) => footprintOf(c, w, r));

// The batcher asks the union where it paired every queued operation with every other (issue 14: 50-110
// ms of CPU per 1,000 expiries of a sweep); the answer must be the same for any footprints.
describe('FootprintUnion', () => {
  it('conflicts with a footprint exactly when one of its members does', () => {
    fc.assert(
      fc.property(fc.array(footprint, { maxLength: 8 }), footprint, (members, entry) => {
        const union = new FootprintUnion();
        for (const f of members) union.add(f);
        expect(union.conflictsWith(entry)).toBe(members.some((f) => conflicts(entry, f)));
      }),
      { numRuns: 2000 },
    );
  });
});
