import { ManualClock, systemClock } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';

describe('ManualClock timers', () => {
  it('fires due timers in deadline order (ties in the order set) at their own time, and cancels', async () => {
    const clock = new ManualClock(1_000_000);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.monotonic()}/${clock.now()}`);
    clock.setTimer(at('c'), 300);
    clock.setTimer(at('a'), 100);
    clock.setTimer(at('b1'), 200);
    clock.setTimer(at('b2'), 200);
    const cancel = clock.setTimer(at('never'), 150);
    cancel();
    expect(clock.pendingTimers).toBe(4);
    await clock.advance(250);
    expect(fired).toEqual(['a@100/1000100', 'b1@200/1000200', 'b2@200/1000200']);
    expect([clock.monotonic(), clock.now(), clock.pendingTimers]).toEqual([250, 1_000_250, 1]);
    await clock.advance(50);
    expect(fired.at(-1)).toBe('c@300/1000300');
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer set by a callback within the same advance when it falls due, after awaited work settles', async () => {
    const clock = new ManualClock();
    const ticks: number[] = [];
    const tick = async () => {
      await Promise.resolve(); // work inside the callback that must finish before the next firing
      ticks.push(clock.monotonic());
      clock.setTimer(() => void tick(), 100);
    };
    clock.setTimer(() => void tick(), 100);
    await clock.advance(350);
    expect(ticks).toEqual([100, 200, 300]);
    expect(clock.monotonic()).toBe(350);
  });

  it('treats a negative or NaN delay as 0 and never fires an infinite one', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimer(() => fired.push('negative'), -5);
    clock.setTimer(() => fired.push('nan'), Number.NaN);
    clock.setTimer(() => fired.push('infinite'), Number.POSITIVE_INFINITY);
    await clock.advance(0);
    expect(fired).toEqual(['negative', 'nan']);
    await clock.advance(10 * 365 * 86_400_000);
    expect(fired).toEqual(['negative', 'nan']);
  });

  it('stops a zero-delay timer loop with an error instead of hanging', async () => {
    const clock = new ManualClock();
    const loop = () => {
      clock.setTimer(loop, 0);
    };
    loop();
    await expect(clock.advance(1)).rejects.toThrow(/zero-delay loop/);
  });
});

describe('systemClock timers', () => {
  it('fires after the delay and can be cancelled', async () => {
    const fired: string[] = [];
    const cancel = systemClock.setTimer(() => fired.push('cancelled'), 5);
    cancel();
    await new Promise<void>((resolve) => systemClock.setTimer(resolve, 10));
    expect(fired).toEqual([]);
  });

  it('waits past 2^31 - 1 ms in legs instead of firing at once', async () => {
    let fired = false;
    const cancel = systemClock.setTimer(
      () => {
        fired = true;
      },
      2 ** 31 + 1000,
    );
    await new Promise<void>((resolve) => systemClock.setTimer(resolve, 20));
    cancel();
    expect(fired).toBe(false);
  });
});
