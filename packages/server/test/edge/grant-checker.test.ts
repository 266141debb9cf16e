import { describe, expect, it } from 'vitest';
import { checkGrants, peakHeld, type RecordedGrant } from './grant-checker.js';

const g = (
  site: 'primary' | 'edge',
  granted: number,
  end: number,
  id = `${site}-${granted}`,
): RecordedGrant => ({
  site,
  leaseId: id,
  granted,
  end,
});
const cut = { cutAt: 1000, healAt: 5000, blockTtlMs: 2000 };

/** The checker of the edge cut test must catch each violation it is there for. */
describe('edge grant checker', () => {
  it('counts an end and a grant at the same instant as a hand-over, not an overlap', () => {
    expect(peakHeld([g('edge', 0, 10), g('edge', 10, 20)]).seats).toBe(1);
    expect(peakHeld([g('edge', 0, 11), g('edge', 10, 20)]).seats).toBe(2);
  });

  it('passes a run within the license, the block and the deadline', () => {
    const run = [
      g('primary', 0, 900),
      g('edge', 100, 800),
      g('edge', 1100, 2900),
      g('primary', 3500, 4800),
      g('edge', 5100, 5200),
    ];
    const check = checkGrants(run, 2, 1, cut);
    expect(check.violations).toEqual([]);
    expect(check.edgeGrantsInCut).toBe(1);
    expect(check.edgeGrantsAfterHeal).toBe(1);
  });

  it('catches primary + edge over the license, the edge over its block, and an edge lease past its deadline', () => {
    expect(
      checkGrants([g('primary', 0, 100), g('primary', 50, 100), g('edge', 60, 70)], 2, 1, cut).violations,
    ).toHaveLength(1);
    expect(checkGrants([g('edge', 0, 100), g('edge', 50, 100)], 5, 1, cut).violations).toHaveLength(1);
    expect(checkGrants([g('edge', 1500, 3001)], 5, 1, cut).violations).toHaveLength(1);
    expect(checkGrants([g('edge', 3500, 3600)], 5, 1, cut).violations).toHaveLength(1);
  });
});
