import type { AuditEntry, AuditHead } from './audit-event.js';
import { entryHash, GENESIS_HASH } from './chain.js';

export type AuditProblemKind =
  /** An entry's content no longer matches its hash, or a checkpoint/anchor hash at its seq. */
  | 'modified'
  /** A seq is missing and never appears. */
  | 'deleted'
  /** A seq appears out of order (or twice). */
  | 'reordered'
  /** The chain ends before a checkpoint's seq. */
  | 'truncated'
  /** A checkpoint whose signature does not verify against the JWKS. */
  | 'bad-checkpoint-signature'
  /** A line that is not an audit record (not at the end of a file: that is a torn, unsealed tail). */
  | 'malformed'
  /**
   * The chain starts after an anchor, so the history before it is not among the files (archived, or
   * deleted: the verifier cannot tell which). Not OK unless partial verification was asked for.
   */
  | 'history-missing'
  /** The anchor the chain starts from is not signed by the cluster key, or its signature is wrong. */
  | 'bad-anchor';

export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** The seq of the first bad entry (for a bad checkpoint: the seq it claims, or -1 if unreadable). */
  readonly index: number;
  readonly message: string;
}

export interface ChainVerification {
  /** No tampering found. An unsealed tail alone leaves this true. */
  readonly ok: boolean;
  /** Entries checked. */
  readonly count: number;
  /** seq of the first entry checked (1, or after an anchor whose earlier history was not provided). */
  readonly firstSeq: number;
  readonly head: AuditHead;
  /** Signed checkpoints whose hash was actually compared with the chain (at an entry, or at the anchor). */
  readonly checkpointsChecked: number;
  /** Kept checkpoints at or before the anchor: their history was not given, nothing was compared (history-missing). */
  readonly checkpointsSkipped: number;
  /** Records written but not yet sealed into the chain (a crash mid-append leaves these), and torn lines. */
  readonly unsealedTail: number;
  readonly problem?: AuditProblem;
}

export interface ChainInput {
  /** Entries in the order they were read. */
  readonly entries: Iterable<AuditEntry>;
  /** Where the provided entries start when earlier history was archived and is not among them. */
  readonly anchor?: AuditHead | undefined;
  /** Further known (seq, hash) points the cluster signed: verified checkpoints. */
  readonly checkpoints?: readonly AuditHead[];
  /** Points that pin a hash but are not counted as checkpoints (archive anchors inside the range). */
  readonly pins?: readonly AuditHead[];
  /** Checkpoints that failed signature verification (reported before anything else). */
  readonly badCheckpoints?: readonly { readonly index: number; readonly reason: string }[];
  /** Why the anchor cannot be trusted (unsigned, bad signature, signed for another point). */
  readonly badAnchor?: string | undefined;
  /**
   * false: a chain that starts after an anchor (the history before it not given) is `history-missing`.
   * Otherwise such a chain is accepted as long as no kept checkpoint lies at or before the anchor. Files
   * (`verifyAuditFiles`, the CLI) pass false unless partial verification was asked for.
   */
  readonly allowPartial?: boolean | undefined;
  /** Unsealed records (pending) and torn final lines. */
  readonly unsealed?: number;
}

/**
 * Verifies a hash chain in one pass: O(n) hashing, O(checkpoints) memory while the chain is intact. The
 * first anomaly is classified precisely: a seq gap is a deletion unless the missing seq turns up later
 * (then it is a reordering), so after a gap the scan continues, remembering only the missing range.
 * 100,000 entries verify in well under a second here (see docs/audit.md for the measurement).
 */
export function verifyChain(input: ChainInput): ChainVerification {
  const unsealedTail = input.unsealed ?? 0;
  const start = input.anchor ?? { seq: 0, hash: GENESIS_HASH };
  const known = new Map<number, string>();
  for (const point of input.pins ?? []) known.set(point.seq, point.hash);
  // Signed checkpoints last: where an unsigned pin and a signed checkpoint disagree, the signature wins.
  const signed = new Set<number>();
  for (const point of input.checkpoints ?? []) {
    known.set(point.seq, point.hash);
    signed.add(point.seq);
  }
  let compared = 0;
  let expected = start.seq + 1;
  let prevHash = start.hash;
  let count = 0;
  let head: AuditHead = start;
  let problem: AuditProblem | undefined;
  const bad = input.badCheckpoints?.[0];
  if (bad) {
    problem = {
      kind: 'bad-checkpoint-signature',
      index: bad.index,
      message: `checkpoint ${bad.index} does not verify: ${bad.reason}`,
    };
  } else if (input.badAnchor !== undefined) {
    problem = {
      kind: 'bad-anchor',
      index: start.seq,
      message: `the anchor at ${start.seq} cannot be trusted: ${input.badAnchor}`,
    };
  } else if (start.seq > 0 && known.has(start.seq) && known.get(start.seq) !== start.hash) {
    problem = {
      kind: 'modified',
      index: start.seq,
      message: `the anchor at ${start.seq} differs from the checkpoint signed at that seq`,
    };
  }
  // After a gap: the missing seqs [gapFrom, gapTo] and whether any of them showed up later.
  let gap: { from: number; to: number } | undefined;

  for (const entry of input.entries) {
    if (problem) break;
    if (gap) {
      if (entry.seq >= gap.from && entry.seq <= gap.to) {
        problem = {
          kind: 'reordered',
          index: gap.from,
          message: `entry ${gap.from} is out of order (entry ${entry.seq} appears after later ones)`,
        };
      }
      continue;
    }
    count++;
    if (entry.seq !== expected) {
      if (entry.seq > expected) {
        gap = { from: expected, to: entry.seq - 1 };
        continue;
      }
      problem = {
        kind: 'reordered',
        index: expected,
        message: `expected entry ${expected}, found ${entry.seq} again or out of order`,
      };
      break;
    }
    const computed = entryHash(entry.prevHash, entry.seq, entry);
    if (computed !== entry.hash) {
      problem = { kind: 'modified', index: entry.seq, message: `entry ${entry.seq} does not match its hash` };
      break;
    }
    if (entry.prevHash !== prevHash) {
      // Its own hash is consistent, so its prevHash is as sealed: the entry before was rewritten (and
      // re-hashed) — or, for the first entry after an anchor, the anchor disagrees.
      const index = entry.seq - 1 > start.seq ? entry.seq - 1 : entry.seq;
      problem = {
        kind: 'modified',
        index,
        message: `entry ${entry.seq} does not link to entry ${entry.seq - 1} (prevHash differs)`,
      };
      break;
    }
    const pinned = known.get(entry.seq);
    if (pinned !== undefined) {
      if (pinned !== entry.hash) {
        problem = {
          kind: 'modified',
          index: entry.seq,
          message: `entry ${entry.seq} differs from the checkpoint signed at that seq (the chain was rewritten)`,
        };
        break;
      }
      if (signed.has(entry.seq)) compared++;
    }
    prevHash = entry.hash;
    head = { seq: entry.seq, hash: entry.hash };
    expected++;
  }
  if (!problem && gap) {
    problem = {
      kind: 'deleted',
      index: gap.from,
      message:
        gap.from === gap.to ? `entry ${gap.from} is missing` : `entries ${gap.from}…${gap.to} are missing`,
    };
  }
  if (!problem) {
    const beyond = [...known.keys()].filter((seq) => seq > head.seq).sort((a, b) => a - b)[0];
    if (beyond !== undefined) {
      problem = {
        kind: 'truncated',
        index: head.seq + 1,
        message: `the chain ends at ${head.seq} but a checkpoint was signed at ${beyond}: entries from ${head.seq + 1} are missing`,
      };
    }
  }
  // Kept checkpoints at or before the start vouch for history that is not here: nothing was compared,
  // and that is never OK — not even with allowPartial, which only accepts a start nothing contradicts.
  // (The anchor's own signature is not passed here as a checkpoint: see verifyAuditFiles.)
  const before = start.seq > 0 ? [...signed].filter((seq) => seq <= start.seq).length : 0;
  if (!problem && start.seq > 0 && (before > 0 || input.allowPartial === false)) {
    problem = {
      kind: 'history-missing',
      index: 1,
      message:
        `entries 1…${start.seq} are not among the files (archived, or deleted)` +
        (before > 0
          ? `, though ${before} kept checkpoint(s) vouch for them: give the archive segments`
          : ': give the archive segments, or accept a partial check with --allow-partial'),
    };
  }
  return {
    ok: problem === undefined,
    count,
    firstSeq: start.seq + 1,
    head,
    checkpointsChecked: compared,
    checkpointsSkipped: before,
    unsealedTail,
    ...(problem ? { problem } : {}),
  };
}
