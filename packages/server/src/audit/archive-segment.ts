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
import { join } from 'node:path';
import { type AuditEntry, type AuditHead, exportLine, type StoredCheckpoint } from '@leasehold/domain';

/** `audit-000000000000001-000000000050000.ndjson`: names sort in seq order. */
export function segmentName(from: number, to: number): string {
  return `audit-${pad(from)}-${pad(to)}.ndjson`;
}

const pad = (seq: number) => String(seq).padStart(15, '0');

/**
 * Writes one archive segment durably: the anchor it continues from, its entries, and the checkpoints
 * that fall inside it, as export lines. Written to a temporary name, fsynced, renamed, and the directory
 * fsynced — only then may the entries be deleted from the store, so a crash at any point leaves either
 * no segment (and the entries still in the store) or a complete one.
 */
export function writeSegment(
  dir: string,
  anchor: AuditHead,
  entries: readonly AuditEntry[],
  checkpoints: readonly StoredCheckpoint[],
): string {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) throw new RangeError('an archive segment needs at least one entry');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, segmentName(first.seq, last.seq));
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
    if (name.startsWith(prefix) && join(dir, name) !== path) rmSync(join(dir, name), { force: true });
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return path;
}
