import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { AuditEntry, AuditEvent, AuditHead } from './audit-event.js';
import { AUDIT_ACTIONS } from './audit-event.js';
import { type StoredCheckpoint, verifyCheckpoint } from './checkpoint.js';
import { type ChainVerification, verifyChain } from './verify-chain.js';

/**
 * The NDJSON export: one typed record per line — sealed entries in seq order, then the anchor (where the
 * live chain starts after archival), the signed checkpoints, and the pending (unsealed) events. Archive
 * segments use the same lines. A line the writer did not finish (a crash mid-append or mid-export) is the
 * file's last line without its newline; it counts as an unsealed tail, not as tampering.
 */
export type AuditExportLine =
  | ({ readonly type: 'entry' } & AuditEntry)
  | ({ readonly type: 'anchor' } & AuditAnchor)
  | ({ readonly type: 'checkpoint' } & StoredCheckpoint)
  | ({ readonly type: 'pending' } & AuditEvent);

/**
 * Where a chain starts after archival: the last archived entry's seq and hash, and (from seq 1 on) the
 * cluster-signed checkpoint at exactly that point, so the start of a live export cannot be moved or made
 * up by whoever can write the store.
 */
export interface AuditAnchor extends AuditHead {
  /** Compact JWS of the checkpoint at `seq` (absent only for the genesis anchor, seq 0). */
  readonly jws?: string;
}

export function exportLine(line: AuditExportLine): string {
  return `${JSON.stringify(line)}\n`;
}

export interface ParsedAuditFile {
  readonly entries: AuditEntry[];
  readonly anchors: AuditAnchor[];
  readonly checkpoints: StoredCheckpoint[];
  readonly pending: number;
  /** 1 when the last line is unfinished. */
  readonly torn: number;
  /** The first line that is not a record (and not a torn last line), 1-based. */
  readonly malformedLine?: number;
}

const ACTIONS = new Set<string>(AUDIT_ACTIONS);

export function parseAuditFile(text: string): ParsedAuditFile {
  const entries: AuditEntry[] = [];
  const anchors: AuditAnchor[] = [];
  const checkpoints: StoredCheckpoint[] = [];
  let pending = 0;
  let torn = 0;
  let malformedLine: number | undefined;
  const lines = text.split('\n');
  const unfinished = !text.endsWith('\n') && text.length > 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const last = i === lines.length - 1;
    const record = parseLine(line);
    if (!record) {
      if (last && unfinished) torn = 1;
      else malformedLine ??= i + 1;
      continue;
    }
    if (record.type === 'entry') {
      const { type: _t, ...entry } = record;
      entries.push(entry);
    } else if (record.type === 'anchor') {
      anchors.push({ seq: record.seq, hash: record.hash, ...(record.jws ? { jws: record.jws } : {}) });
    } else if (record.type === 'checkpoint') {
      const { type: _t, ...checkpoint } = record;
      checkpoints.push(checkpoint);
    } else pending++;
  }
  return { entries, anchors, checkpoints, pending, torn, ...(malformedLine ? { malformedLine } : {}) };
}

function parseLine(line: string): AuditExportLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const isEvent = () =>
    typeof r.action === 'string' &&
    ACTIONS.has(r.action) &&
    typeof r.actor === 'string' &&
    typeof r.subject === 'string' &&
    typeof r.time === 'number' &&
    typeof r.node === 'string' &&
    (r.details === undefined || (typeof r.details === 'object' && r.details !== null));
  const isHead = () => Number.isSafeInteger(r.seq) && typeof r.hash === 'string';
  switch (r.type) {
    case 'entry':
      return isEvent() && isHead() && typeof r.prevHash === 'string' ? (value as AuditExportLine) : undefined;
    case 'anchor':
      return isHead() && (r.jws === undefined || typeof r.jws === 'string')
        ? (value as AuditExportLine)
        : undefined;
    case 'checkpoint':
      return typeof r.jws === 'string' ? (value as AuditExportLine) : undefined;
    case 'pending':
      return isEvent() ? (value as AuditExportLine) : undefined;
    default:
      return undefined;
  }
}

export interface VerifyExportOptions {
  /** The cluster's JWKS; without it checkpoints are read but their signatures are not checked. */
  readonly jwks?: JSONWebKeySet | undefined;
  /** Checkpoints exported earlier (kept apart from the store), as JWS strings. */
  readonly extraCheckpoints?: readonly string[];
  /** Accept a chain whose history before its (signed) anchor is not given (`--allow-partial`). */
  readonly allowPartial?: boolean;
}

export interface ExportVerification extends ChainVerification {
  readonly files: number;
  /** False when no JWKS was given: checkpoints were taken at their word. */
  readonly signaturesChecked: boolean;
  /** True when the chain starts after an anchor whose earlier history was not among the files. */
  readonly partial: boolean;
}

/**
 * Verifies archive segments and a live export as one chain. Files are put in order by their first
 * entry's seq (segments may be given in any order); within a file, order is what the file says, so a
 * reordering inside it is detected.
 */
export async function verifyAuditFiles(
  texts: readonly string[],
  options: VerifyExportOptions = {},
): Promise<ExportVerification> {
  const files = texts.map(parseAuditFile);
  const malformed = files.find((f) => f.malformedLine !== undefined);
  const ordered = [...files].sort(
    (a, b) => (a.entries[0]?.seq ?? Number.MAX_SAFE_INTEGER) - (b.entries[0]?.seq ?? Number.MAX_SAFE_INTEGER),
  );
  const jwsList = [
    ...new Set([
      ...files.flatMap((f) => f.checkpoints.map((c) => c.jws)),
      ...(options.extraCheckpoints ?? []),
    ]),
  ];
  const kept = new Set(options.extraCheckpoints ?? []);
  const anchors = files.flatMap((f) => f.anchors).sort((a, b) => a.seq - b.seq);
  const firstSeq = ordered[0]?.entries[0]?.seq;
  // Start at genesis when the history from entry 1 is here (or nothing says otherwise); else at the
  // earliest anchor, whose earlier history was archived (or deleted) and not given.
  const earliestAnchor = anchors[0];
  const anchor = firstSeq === 1 || !earliestAnchor ? undefined : earliestAnchor;
  const points: AuditHead[] = [];
  const badCheckpoints: { index: number; reason: string }[] = [];
  // A checkpoint in the files at exactly the starting anchor, with its hash, is the anchor's signature
  // (the store keeps it for that), not a checkpoint vouching for the history before it.
  let anchorSignedInFiles = false;
  for (const jws of jwsList) {
    try {
      const checkpoint = options.jwks ? await verifyCheckpoint(jws, options.jwks) : unverifiedCheckpoint(jws);
      if (anchor && checkpoint.seq === anchor.seq && checkpoint.hash === anchor.hash && !kept.has(jws)) {
        anchorSignedInFiles = true;
      } else points.push({ seq: checkpoint.seq, hash: checkpoint.hash });
    } catch (err) {
      badCheckpoints.push({ index: claimedSeq(jws), reason: (err as Error).message });
    }
  }
  // Every anchor that carries a signature has it checked; the one the chain starts from must be signed
  // (its own line, or the checkpoint at its seq), or whoever can write the store could move it.
  let badAnchor: string | undefined;
  for (const a of anchors) {
    if (!a.jws || !options.jwks) continue;
    const reason = await anchorSignatureProblem(a, options.jwks);
    if (reason) {
      if (a === anchor) badAnchor = reason;
      else badCheckpoints.push({ index: a.seq, reason: `archive anchor: ${reason}` });
    }
  }
  if (anchor && anchor.seq > 0 && options.jwks && !anchor.jws && !anchorSignedInFiles && !badAnchor) {
    badAnchor = 'it carries no signature (an anchor moved by editing the store has none)';
  }
  const result = verifyChain({
    entries: (function* () {
      for (const file of ordered) yield* file.entries;
    })(),
    anchor,
    checkpoints: points,
    // Anchors inside the range pin the hash the archiver saw at that seq.
    pins: anchors.filter((a) => a !== anchor && a.seq > 0).map((a) => ({ seq: a.seq, hash: a.hash })),
    badCheckpoints,
    badAnchor,
    allowPartial: options.allowPartial === true,
    unsealed: files.reduce((n, f) => n + f.pending + f.torn, 0),
  });
  const withMalformed: ChainVerification =
    malformed && result.ok
      ? {
          ...result,
          ok: false,
          problem: {
            kind: 'malformed',
            index: -1,
            message: `line ${malformed.malformedLine} of file ${files.indexOf(malformed) + 1} is not an audit record`,
          },
        }
      : result;
  return {
    ...withMalformed,
    files: files.length,
    signaturesChecked: options.jwks !== undefined,
    partial: anchor !== undefined && anchor.seq > 0,
  };
}

/** Why an anchor's signature does not hold (undefined when it does). */
async function anchorSignatureProblem(anchor: AuditAnchor, jwks: JSONWebKeySet): Promise<string | undefined> {
  try {
    const signed = await verifyCheckpoint(anchor.jws ?? '', jwks);
    if (signed.seq !== anchor.seq || signed.hash !== anchor.hash)
      return `its signature is for seq ${signed.seq}, not for this anchor (${anchor.seq})`;
    return undefined;
  } catch (err) {
    return `its signature does not verify: ${(err as Error).message}`;
  }
}

function unverifiedCheckpoint(jws: string): AuditHead {
  const claims = decodeJwt(jws);
  if (typeof claims.seq !== 'number' || typeof claims.hash !== 'string') throw new Error('not a checkpoint');
  return { seq: claims.seq, hash: claims.hash };
}

function claimedSeq(jws: string): number {
  try {
    const seq = decodeJwt(jws).seq;
    return typeof seq === 'number' ? seq : -1;
  } catch {
    return -1;
  }
}
