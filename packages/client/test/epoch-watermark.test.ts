import { ManualClock } from '@leasehold/client/testing';
import { describe, expect, it } from 'vitest';
import { EpochWatermark } from '../src/client/epoch-watermark.js';
import { StateFile } from '../src/client/state-file.js';
import { LeaseholdClientError } from '../src/errors/leasehold-client-error.js';
import type { StateStore } from '../src/time/state-store.js';
import { TrustedTime } from '../src/time/trusted-time.js';
import { JwksCache } from '../src/token/jwks-cache.js';

/** One run of a client's remembered state over `store`, wired as the client wires it. */
function clientRun(store: StateStore) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const epochs: EpochWatermark = new EpochWatermark(() => void state.save(true));
  const state: StateFile = new StateFile(
    store,
    clock,
    { trusted: new TrustedTime(clock), jwks: new JwksCache(() => undefined), epochs },
    () => undefined,
  );
  return { epochs, state };
}

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

  it('survives a restart through the state store: the restarted client still refuses the old primary', async () => {
    let saved: string | undefined;
    const store: StateStore = {
      load: () => saved,
      save: (text) => {
        saved = text;
      },
    };
    const first = clientRun(store);
    await first.state.load();
    first.epochs.observe(1, 'https://p');
    expect(saved).toBeUndefined(); // nothing rose: nothing to save yet
    first.epochs.observe(2, 'https://dr'); // the promoted replica: saved at once, not a minute later
    await Promise.resolve();
    expect(JSON.parse(saved ?? '{}')).toMatchObject({ v: 1, epoch: 2 });

    const second = clientRun(store);
    expect(second.epochs.highest).toBe(1);
    await second.state.load();
    expect(second.epochs.highest).toBe(2);
    expect(() => second.epochs.observe(1, 'https://p')).toThrow(/epoch 1, below epoch 2/);

    // A state written before epochs were kept, or a nonsense value, leaves the mark at 1.
    for (const old of ['{"v":1,"hwm":0}', '{"v":1,"epoch":"9"}', '{"v":1,"epoch":1.5}']) {
      saved = old;
      const run = clientRun(store);
      await run.state.load();
      expect(run.epochs.highest).toBe(1);
    }
  });
});
