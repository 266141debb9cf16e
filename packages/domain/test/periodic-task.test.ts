import { ManualClock, PeriodicTask } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';

/** A run the test finishes by hand: `release()` ends the oldest unfinished run. */
function gatedWork(clock: ManualClock) {
  const starts: number[] = [];
  const gates: (() => void)[] = [];
  return {
    starts,
    run: () => {
      starts.push(clock.monotonic());
      return new Promise<void>((resolve) => gates.push(resolve));
    },
    release: () => gates.shift()?.(),
    get waiting() {
      return gates.length;
    },
  };
}

describe('PeriodicTask', () => {
  it('runs once per interval: three intervals, exactly three runs', async () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const task = new PeriodicTask({
      clock,
      intervalMs: 1000,
      run: () => runs.push(clock.monotonic()),
      onError: () => undefined,
    });
    task.start();
    task.start(); // idempotent: still one timer
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(999);
    expect(runs).toEqual([]);
    await clock.advance(2001);
    expect(runs).toEqual([1000, 2000, 3000]);
    await task.stop();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(5000);
    expect(runs).toHaveLength(3);
  });

  it('never starts a run while one is going: ticks meanwhile are skipped, the pace is kept', async () => {
    const clock = new ManualClock();
    const work = gatedWork(clock);
    const task = new PeriodicTask({ clock, intervalMs: 100, run: work.run, onError: () => undefined });
    task.start();
    await clock.advance(350); // ticks at 100, 200, 300: the first run is still going
    expect(work.starts).toEqual([100]);
    work.release();
    await clock.advance(0);
    expect(task.running).toBe(false);
    await clock.advance(50); // the next tick (400) starts the next run
    expect(work.starts).toEqual([100, 400]);
    work.release();
    await task.stop();
  });

  it('trigger runs now, or once right after the run in progress however often it is asked', async () => {
    const clock = new ManualClock();
    const work = gatedWork(clock);
    const task = new PeriodicTask({ clock, intervalMs: 60_000, run: work.run, onError: () => undefined });
    let first = false;
    void task.trigger().then(() => {
      first = true;
    });
    expect(work.starts).toEqual([0]); // before the task was started: a trigger runs anyway
    await clock.advance(10);
    void task.trigger();
    void task.trigger();
    const last = task.trigger();
    expect(work.starts).toEqual([0]);
    work.release();
    await clock.advance(0);
    expect(work.starts).toEqual([0, 10]); // one follow-up for the three triggers
    expect(first).toBe(false); // trigger() resolves when the runs it asked for are done
    work.release();
    await last;
    expect(first).toBe(true);
    expect(task.running).toBe(false);
  });

  it('stop during a run cancels the timer and a queued follow-up, and resolves when the run ends', async () => {
    const clock = new ManualClock();
    const work = gatedWork(clock);
    const task = new PeriodicTask({ clock, intervalMs: 100, run: work.run, onError: () => undefined });
    task.start();
    await clock.advance(100);
    void task.trigger(); // a follow-up, dropped by the stop
    let stopped = false;
    const stopping = task.stop().then(() => {
      stopped = true;
    });
    await clock.advance(1000);
    expect(stopped).toBe(false); // the run in progress is awaited
    expect(clock.pendingTimers).toBe(0);
    work.release();
    await stopping;
    expect(work.starts).toEqual([100]);
    expect(work.waiting).toBe(0);
    await task.trigger(); // stopped: does nothing until started again
    expect(work.starts).toEqual([100]);

    task.start(); // a stopped task can start again
    await clock.advance(100);
    expect(work.starts).toEqual([100, 1200]);
    work.release();
    await task.stop();
  });

  it('hands every error to onError, thrown or rejected, and keeps ticking', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    let n = 0;
    const task = new PeriodicTask({
      clock,
      intervalMs: 100,
      run: () => {
        n++;
        if (n === 1) throw new Error('sync');
        if (n === 2) return Promise.reject(new Error('async'));
        return undefined;
      },
      onError: (err) => {
        errors.push((err as Error).message);
        throw new Error('a reporter that throws is contained too');
      },
    });
    task.start();
    await clock.advance(300);
    expect(errors).toEqual(['sync', 'async']);
    expect(n).toBe(3);
    await task.stop();
  });

  it('a run that triggers its own task gets one follow-up, never a second run beside itself', async () => {
    const clock = new ManualClock();
    let concurrent = 0;
    let most = 0;
    let runs = 0;
    const task: PeriodicTask = new PeriodicTask({
      clock,
      intervalMs: 1000,
      run: async () => {
        runs++;
        concurrent++;
        most = Math.max(most, concurrent);
        if (runs === 1) void task.trigger();
        await Promise.resolve();
        concurrent--;
      },
      onError: () => undefined,
    });
    await task.trigger();
    expect([runs, most]).toEqual([2, 1]);
  });

  it('refuses an interval that is not a positive number', () => {
    const clock = new ManualClock();
    for (const intervalMs of [0, -1, Number.NaN]) {
      expect(
        () => new PeriodicTask({ clock, intervalMs, run: () => undefined, onError: () => undefined }),
      ).toThrow(RangeError);
    }
  });

  it('settled() resolves once the run in progress ends, at once when none is', async () => {
    const clock = new ManualClock();
    const work = gatedWork(clock);
    const task = new PeriodicTask({ clock, intervalMs: 1000, run: work.run, onError: () => undefined });
    await task.settled(); // nothing running
    task.start();
    await clock.advance(1000);
    expect(work.waiting).toBe(1);
    let settled = false;
    const done = task.settled().then(() => {
      settled = true;
    });
    await clock.advance(0);
    expect(settled).toBe(false);
    work.release();
    await done;
    expect(task.running).toBe(false);
    await task.stop();
  });
});
