import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Clock, LeaseholdError } from '@leasehold/domain';

export const HIGH_WATER_FILE = 'clock-high-water';

/**
 * The highest wall-clock time this node has signed lease tokens with, kept across restarts, so that a
 * clock that jumps back (a reset RTC, a bad NTP source, a restored VM snapshot) makes the node refuse to
 * sign — 503 CLOCK_BEHIND, retryable, another node serves — instead of issuing tokens stamped in the past
 * whose lifetimes could overlap ones already given out.
 *
 * The file is written ahead: before signing at `t` the node makes sure the file says at least `t`, by
 * writing `t + stepMs` and fsyncing. So one fsync covers a whole step of signatures, and the file is
 * always >= every time signed, even after SIGKILL. The price: after a crash the mark can be up to one
 * step ahead of what was signed, and the restarted node waits out the rest of that step (a clean close
 * writes the exact mark). A 1 s step costs one fsync a second under load, and a restart takes longer.
 *
 * The writes go through the thread pool (fs/promises), never on the event loop: a synchronous fsync
 * stalled every request of the node for its duration (1-2 ms median, 12-23 ms p99 here, far more on a
 * busy disk). Half a step before the mark is reached the next step is written in the background, so
 * under steady signing no request waits for the disk; one only waits after an idle spell.
 */
export class ClockHighWater {
  readonly #clock: Clock;
  readonly #path: string;
  readonly #stepMs: number;
  /** What the file says: no signature is later than this. */
  #persisted: number;
  /** The floor: the latest time signed in this process, or the mark found at start. */
  #floor: number;
  #writes = 0;
  /** The write in flight (writes are chained: one temp file, and the mark only grows). */
  #writing: Promise<void> | undefined;
  #writingTarget = 0;

  constructor(clock: Clock, path: string, stepMs = 1000) {
    if (stepMs <= 0) throw new RangeError('stepMs must be positive');
    this.#clock = clock;
    this.#path = path;
    this.#stepMs = stepMs;
    this.#persisted = existsSync(path) ? parseMark(readFileSync(path, 'utf8'), path) : 0;
    this.#floor = this.#persisted;
  }

  /** The persisted mark (epoch ms). */
  get mark(): number {
    return this.#persisted;
  }

  /** How many fsync'd writes this process made (for tests and the docs' cost figure). */
  get writes(): number {
    return this.#writes;
  }

  /** How far the clock reads behind the mark now, or 0 when it may sign. */
  behindBy(now = this.#clock.now()): number {
    return Math.max(0, this.#floor - now);
  }

  /**
   * Admits `now` as a signing time: rejects with CLOCK_BEHIND when it is earlier than the mark, otherwise
   * raises the mark — waiting for the file to cover `now` when it does not yet — and resolves to `now`.
   */
  async admit(now = this.#clock.now()): Promise<number> {
    await this.reserve(now);
    return now;
  }

  /**
   * The two halves of `admit`, for callers that have other work to do in between: throws CLOCK_BEHIND at
   * once (before the caller writes anything), and returns a promise that the file covers `now`, to await
   * right before signing. The lease routes start the store write meanwhile, so a slow disk and a slow
   * store overlap instead of adding up.
   */
  reserve(now = this.#clock.now()): Promise<void> {
    const behind = this.behindBy(now);
    if (behind > 0) throw clockBehind(behind, this.#floor);
    this.#floor = Math.max(this.#floor, now);
    if (now >= this.#persisted) return this.#persistCovering(now);
    if (now >= this.#persisted - this.#stepMs / 2) {
      // Extend by one step ahead of need; a failure here surfaces at the next admit that has to wait.
      this.#persistCovering(this.#persisted).catch(() => undefined);
    }
    return Promise.resolve();
  }

  /** Resolves once the write in flight, if any, has landed or failed (a background extension, say). */
  async flushed(): Promise<void> {
    await this.#writing?.catch(() => undefined);
  }

  /** A clean stop: the exact mark, so the next start need not wait out the step written ahead. */
  async close(): Promise<void> {
    await this.flushed();
    if (this.#floor < this.#persisted) {
      writeMarkSync(this.#path, this.#floor);
      this.#persisted = this.#floor;
      this.#writes++;
    }
  }

  /** Makes the file say more than `time` (one step past it), serialising writes so the file only grows. */
  #persistCovering(time: number): Promise<void> {
    if (this.#writingTarget > time && this.#writing) return this.#writing;
    const target = time + this.#stepMs;
    this.#writingTarget = target;
    const write = (this.#writing ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        if (this.#persisted >= target) return;
        await writeMark(this.#path, target);
        this.#persisted = Math.max(this.#persisted, target);
        this.#writes++;
      })
      .catch((err: unknown) => {
        // The next caller tries again instead of being handed this failure forever.
        this.#writingTarget = this.#persisted;
        throw err;
      });
    this.#writing = write;
    return write;
  }
}

/** Write, fsync, rename, fsync the directory: a crash leaves the old mark or the new, never a torn one. */
async function writeMark(path: string, mark: number): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(`${mark}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The same, synchronously: only at close, when nothing else runs. */
function writeMarkSync(path: string, mark: number): void {
  const temp = `${path}.tmp`;
  syncWrite(temp, `${mark}\n`);
  renameSync(temp, path);
  syncDirectory(dirname(path));
}

function syncWrite(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function parseMark(text: string, path: string): number {
  const mark = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(mark)) {
    // A torn or edited file: refusing to start is safer than guessing a mark.
    throw new LeaseholdError(
      'CLOCK_BEHIND',
      `the clock high-water file ${path} is unreadable; fix or delete it`,
    );
  }
  return mark;
}

function clockBehind(behindMs: number, mark: number): LeaseholdError {
  return new LeaseholdError(
    'CLOCK_BEHIND',
    `this node's clock reads ${behindMs} ms earlier than the latest time it signed with ` +
      `(${new Date(mark).toISOString()}); it signs again when its clock passes that — fix its time source (NTP)`,
    { behindMs },
  );
}
