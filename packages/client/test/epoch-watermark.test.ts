import { describe, expect, it } from 'vitest';
import { EpochWatermark } from '../src/client/epoch-watermark.js';
import { LeaseholdClientError } from '../src/errors/leasehold-client-error.js';

describe('the fencing epoch watermark (docs/replication.md, "Promotion")', () => {
  it('starts at 1, rises with what it sees, and refuses a lower epoch with a retryable EPOCH_STALE', () => {
    const mark = new EpochWatermark();
    expect(mark.highest).toBe(1);
    // A token without the claim (a node older than epochs) is epoch 1.
    mark.observe(undefined, 'https://p');
    mark.observe(2, 'https://dr');
    expect(mark.highest).toBe(2);
    let refused: unknown;
    try {
      mark.observe(1, 'https://p');
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(LeaseholdClientError);
    expect(refused).toMatchObject({ code: 'EPOCH_STALE', retryable: true });
    expect((refused as Error).message).toContain('https://p');
    expect(() => mark.observe(undefined, 'https://old')).toThrow(/epoch 1, below epoch 2/);
    // The mark did not move down; the same or a higher epoch passes.
    expect(mark.highest).toBe(2);
    mark.observe(2, 'https://dr');
    mark.observe(3, 'https://dr2');
    expect(mark.highest).toBe(3);
  });
});
