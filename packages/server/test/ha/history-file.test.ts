import { describe, expect, it } from 'vitest';
import type { Op } from './history.js';
import { opsFromNdjson, opsToNdjson } from './history-file.js';

/** The NDJSON form of a history (how the partition scenario hands its history to partition.test.ts). */
const ops: Op[] = [
  {
    seq: 0,
    client: 'client-01',
    kind: 'checkout',
    node: 'node-1',
    pool: 'lic/solver',
    call: 1000,
    ret: 1012,
    outcome: 'ok',
    status: 201,
    requestId: 'client-01-r1',
    leaseId: 'L1',
    answeredId: 'L1',
    state: 'active',
    expiresAt: 11_000,
    reservedUntil: 11_000,
    slot: 0,
    fence: 7,
    leaseRequestId: 'client-01-r1',
    leasePool: 'lic/solver',
  },
  {
    seq: 1,
    client: 'client-01',
    kind: 'renew',
    node: 'node-1',
    pool: 'lic/solver',
    call: 2000,
    ret: 3500,
    outcome: 'fail',
    status: 503,
    code: 'STORE_UNAVAILABLE',
    retryable: true,
    leaseId: 'L1',
  },
  {
    seq: 2,
    client: 'client-01',
    kind: 'checkin',
    node: 'node-1',
    pool: 'lic/solver',
    call: 4000,
    ret: 9000,
    outcome: 'unknown',
    error: 'timeout',
    leaseId: 'L1',
  },
];

describe('history as NDJSON', () => {
  it('reads back what it wrote, one op a line', () => {
    const text = opsToNdjson(ops);
    expect(text.split('\n')).toHaveLength(ops.length + 1);
    expect(opsFromNdjson(text)).toEqual(ops);
    expect(opsFromNdjson('')).toEqual([]);
  });

  it('rejects a line the checker would misread, naming the line', () => {
    const line = (o: Record<string, unknown>) => JSON.stringify({ ...ops[1], ...o });
    expect(() => opsFromNdjson(`${opsToNdjson(ops)}{"seq":`)).toThrow(/history line 4: not JSON/);
    expect(() => opsFromNdjson(line({ kind: 'release' }))).toThrow(/line 1: kind release/);
    expect(() => opsFromNdjson(line({ outcome: 'maybe' }))).toThrow(/outcome maybe/);
    expect(() => opsFromNdjson(line({ call: '2000' }))).toThrow(/call is string, not number/);
    expect(() => opsFromNdjson(line({ sentAt: 5 }))).toThrow(/unknown field sentAt/);
    expect(() => opsFromNdjson(line({ pool: undefined }))).toThrow(/pool is missing/);
    expect(() => opsFromNdjson('[1]')).toThrow(/not an object/);
  });
});
