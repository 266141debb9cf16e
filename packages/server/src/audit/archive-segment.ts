import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import {
  type AuditAnchor,
  type AuditEntry,
  type AuditHead,
  exportLine,
  type StoredCheckpoint,
} from '@leasehold/domain';

/**
 * `audit-000000000000001-000000000050000.ndjson`: names sort in seq order. The seqs come from store
 * values (an etcd value anyone with write access could set to `"../x"`), so they are checked to be whole
 * numbers in order before they make a file name.
 */
export function segmentName(from: number, to: number): string {
  if (!isSeq(from) || !isSeq(to) || from < 1 || to < from) {
    throw new RangeError(`refusing an archive segment for seqs ${String(from)}…${String(to)}`);
  }
  return `audit-${pad(from)}-${pad(to)}.ndjson`;
}

const isSeq = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const pad = (seq: number) => String(seq).padStart(15, '0');

const SEGMENT_NAME = /^audit-(\d{15})-(\d{15})\.ndjson$/;
const SEGMENT_OR_TEMP = /^audit-\d{15}-\d{15}\.ndjson(\.partial)?$/;

/** `dir/name`, refused unless it stays inside `dir` (defence in depth behind segmentName's checks). */
function inside(dir: string, name: string): string {
  const path = resolve(dir, name);
  const rel = relative(resolve(dir), path);
  if (rel === '' || rel.startsWith('..') || rel.includes(sep)) {
    throw new RangeError(`archive path ${name} would leave ${dir}`);
  }
  return path;
}

/** The anchor line of a segment or export: the checkpoint signed at exactly its seq signs it. */
export function signedAnchor(anchor: AuditHead, checkpoints: readonly StoredCheckpoint[]): AuditAnchor {
  const jws = checkpoints.find((c) => c.seq === anchor.seq && c.hash === anchor.hash)?.jws;
  return { seq: anchor.seq, hash: anchor.hash, ...(jws ? { jws } : {}) };
}

/** The segment in `dir` whose range holds `seq` as an interior point or its end, if any. */
export function segmentAround(dir: string, seq: number): { from: number; to: number } | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const from = Number(m[1]);
    const to = Number(m[2]);
    if (from <= seq && seq <= to) return { from, to };
  }
  return undefined;
}

/**
 * One archive segment being written: lines go to a temporary file as they come (so a segment of 50,000
 * entries never has to be in memory at once), then `commit` makes it durable — fsynced, renamed, the
 * directory fsynced — and only then may its entries be deleted from the store, so a crash at any point
 * leaves either no segment (and the entries still in the store) or a complete one. `abort` drops it.
 */
export class SegmentFile {
  readonly path: string;
  readonly #dir: string;
  readonly #from: number;
  readonly #temp: string;
  #fd: number | undefined;

  constructor(dir: string, from: number, to: number) {
    this.#dir = dir;
    this.#from = from;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = inside(dir, segmentName(from, to));
    this.#temp = `${this.path}.partial`;
    this.#fd = openSync(this.#temp, 'w', 0o600);
  }

  /** Appends export lines (each ends with its newline). */
  write(lines: readonly string[]): void {
    if (this.#fd === undefined) throw new Error('archive segment already closed');
    if (lines.length > 0) writeSync(this.#fd, lines.join(''));
  }

  /** Makes the segment durable under its name; answers its path. */
  commit(): string {
    const fd = this.#fd;
    if (fd === undefined) throw new Error('archive segment already closed');
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.#temp, this.path);
    // A segment from the same seq left by a crash before its entries were pruned is superseded by this
    // one (its entries are still in the store, and now in this file): keep one, or verify would see them
    // twice.
    const prefix = `audit-${pad(this.#from)}-`;
    for (const name of readdirSync(this.#dir)) {
      if (name.startsWith(prefix) && SEGMENT_OR_TEMP.test(name) && inside(this.#dir, name) !== this.path) {
        rmSync(inside(this.#dir, name), { force: true });
      }
    }
    const dirFd = openSync(this.#dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return this.path;
  }

  /** Drops the unfinished segment (its entries stay in the store). */
  abort(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    closeSync(fd);
    rmSync(this.#temp, { force: true });
  }
}

/** The export lines of the checkpoints that fall inside [from, to]. */
export function checkpointLines(
  checkpoints: readonly StoredCheckpoint[],
  from: number,
  to: number,
): string[] {
  return checkpoints
    .filter((c) => c.seq >= from && c.seq <= to)
    .map((c) => exportLine({ type: 'checkpoint', ...c }));
}

/**
 * Writes one archive segment durably (SegmentFile): the anchor it continues from, its entries, and the
 * checkpoints that fall inside it, as export lines.
 */
export function writeSegment(
  dir: string,
  anchor: AuditAnchor,
  entries: readonly AuditEntry[],
  checkpoints: readonly StoredCheckpoint[],
): string {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) throw new RangeError('an archive segment needs at least one entry');
  const file = new SegmentFile(dir, first.seq, last.seq);
  try {
    file.write([exportLine({ type: 'anchor', ...anchor })]);
    // In chunks: one string of 100k lines would be ~40 MB.
    for (let i = 0; i < entries.length; i += 1000) {
      file.write(entries.slice(i, i + 1000).map((e) => exportLine({ type: 'entry', ...e })));
    }
    file.write(checkpointLines(checkpoints, first.seq, last.seq));
  } catch (err) {
    file.abort();
    throw err;
  }
  return file.commit();
}
