import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
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
   * Admits `now` as a signing time: throws CLOCK_BEHIND when it is earlier than the mark, otherwise
   * raises the mark (persisting ahead when `now` has reached the persisted value) and returns `now`.
   */
  admit(now = this.#clock.now()): number {
    const behind = this.behindBy(now);
    if (behind > 0) throw clockBehind(behind, this.#floor);
    this.#floor = now;
    if (now >= this.#persisted) this.#persist(now + this.#stepMs);
    return now;
  }

  /** A clean stop: the exact mark, so the next start need not wait out the step written ahead. */
  close(): void {
    if (this.#floor < this.#persisted) this.#persist(this.#floor);
  }

  #persist(mark: number): void {
    // Write, fsync, rename, fsync the directory: a crash leaves the old mark or the new, never a torn one.
    const temp = `${this.#path}.tmp`;
    syncWrite(temp, `${mark}\n`);
    renameSync(temp, this.#path);
    syncDirectory(dirname(this.#path));
    this.#persisted = mark;
    this.#writes++;
  }
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
