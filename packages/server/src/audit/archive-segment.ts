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
 * Writes one archive segment durably: the anchor it continues from, its entries, and the checkpoints
 * that fall inside it, as export lines. Written to a temporary name, fsynced, renamed, and the directory
 * fsynced — only then may the entries be deleted from the store, so a crash at any point leaves either
 * no segment (and the entries still in the store) or a complete one.
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
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = inside(dir, segmentName(first.seq, last.seq));
  const temp = `${path}.partial`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    const lines = [
      exportLine({ type: 'anchor', ...anchor }),
      ...entries.map((e) => exportLine({ type: 'entry', ...e })),
      ...checkpoints
        .filter((c) => c.seq >= first.seq && c.seq <= last.seq)
        .map((c) => exportLine({ type: 'checkpoint', ...c })),
    ];
    // In chunks: one string of 100k lines would be ~40 MB.
    for (let i = 0; i < lines.length; i += 1000) writeSync(fd, lines.slice(i, i + 1000).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  // A segment from the same seq left by a crash before its entries were pruned is superseded by this one
  // (its entries are still in the store, and now in this file): keep one, or verify would see them twice.
  const prefix = `audit-${pad(first.seq)}-`;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(prefix) && SEGMENT_OR_TEMP.test(name) && inside(dir, name) !== path) {
      rmSync(inside(dir, name), { force: true });
    }
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return path;
}
