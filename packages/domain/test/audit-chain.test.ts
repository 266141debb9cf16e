import {
  AUDIT_ACTIONS,
  type AuditEntry,
  type AuditEvent,
  canonicalEntry,
  canonicalJson,
  entryHash,
  eventOf,
  exportLine,
  GENESIS_HEAD,
  generateKeyPairPems,
  importPrivateKey,
  sealEvents,
  signCheckpoint,
  verifyAuditFiles,
  verifyChain,
  verifyCheckpoint,
} from '@leasehold/domain';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

const N = 100_000;
const ACTIONS = ['lease.granted', 'lease.released', 'lease.expired', 'license.installed'] as const;

function events(count: number, from = 0): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    action: ACTIONS[(from + i) % ACTIONS.length] as AuditEvent['action'],
    actor: (from + i) % 7 === 0 ? 'system:sweeper' : `client:tok-${(from + i) % 13}`,
    subject: `lease:l-${from + i}`,
    time: 1_780_000_000_000 + (from + i) * 37,
    node: `node-${(from + i) % 3}`,
    ...((from + i) % 5 === 0 ? { details: { feature: 'cad', slot: (from + i) % 50, replay: false } } : {}),
  }));
}

describe('audit chain', () => {
  let chain: AuditEntry[];

  beforeAll(() => {
    chain = sealEvents(GENESIS_HEAD, events(N));
  });

  it(`verifies ${N.toLocaleString('en')} intact entries quickly`, () => {
    const started = performance.now();
    const result = verifyChain({ entries: chain });
    const ms = performance.now() - started;
    console.info(`verified ${N} entries in ${ms.toFixed(0)} ms`);
    expect(result).toMatchObject({ ok: true, count: N, head: { seq: N, hash: chain[N - 1]?.hash } });
    // bound 5000 ms: worst measured 842 ms (394-842 ms, 4 runs on 2026-12-06, one beside a CPU-bound process;
    // docs/audit.md and earlier full-suite runs: 714-1,007 ms).
    expect(ms).toBeLessThan(5000);
  });

  it('sealing in batches gives the same chain as sealing at once', () => {
    const all = events(1000);
    let head = GENESIS_HEAD;
    const batched: AuditEntry[] = [];
    for (let i = 0; i < all.length; i += 63) {
      const sealed = sealEvents(head, all.slice(i, i + 63));
      batched.push(...sealed);
      const last = sealed[sealed.length - 1] as AuditEntry;
      head = { seq: last.seq, hash: last.hash };
    }
    expect(batched).toEqual(chain.slice(0, 1000));
  });

  // Each tampering kind at an index fast-check picks, over the full 100k chain.
  const position = () => fc.integer({ min: 0, max: N - 2 });
  const runs = { numRuns: 4 };

  it('detects a modified entry at its index', () => {
    fc.assert(
      fc.property(position(), (k) => {
        const tampered = chain.slice();
        tampered[k] = { ...(chain[k] as AuditEntry), actor: 'admin:mallory' };
        expect(verifyChain({ entries: tampered }).problem).toMatchObject({ kind: 'modified', index: k + 1 });
      }),
      runs,
    );
  });

  it('detects a modified entry whose hash was recomputed, at its index', () => {
    fc.assert(
      fc.property(position(), (k) => {
        const tampered = chain.slice();
        const original = chain[k] as AuditEntry;
        const changed = { ...original, subject: 'lease:forged' };
        tampered[k] = { ...changed, hash: entryHash(changed.prevHash, changed.seq, changed) };
        expect(verifyChain({ entries: tampered }).problem).toMatchObject({ kind: 'modified', index: k + 1 });
      }),
      runs,
    );
  });

  it('detects a deleted entry at its index', () => {
    fc.assert(
      fc.property(position(), (k) => {
        const tampered = [...chain.slice(0, k), ...chain.slice(k + 1)];
        expect(verifyChain({ entries: tampered }).problem).toMatchObject({ kind: 'deleted', index: k + 1 });
      }),
      runs,
    );
  });

  it('detects reordered entries at the first one out of place', () => {
    fc.assert(
      fc.property(position(), fc.integer({ min: 1, max: 50 }), (k, distance) => {
        const j = Math.min(N - 1, k + distance);
        const tampered = chain.slice();
        [tampered[k], tampered[j]] = [chain[j] as AuditEntry, chain[k] as AuditEntry];
        expect(verifyChain({ entries: tampered }).problem).toMatchObject({ kind: 'reordered', index: k + 1 });
      }),
      runs,
    );
  });

  it('detects truncation against a checkpoint at the first missing index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: N - 1 }), (k) => {
        const checkpoint = { seq: N, hash: (chain[N - 1] as AuditEntry).hash };
        const result = verifyChain({ entries: chain.slice(0, k), checkpoints: [checkpoint] });
        expect(result.problem).toMatchObject({ kind: 'truncated', index: k + 1 });
        // Without the checkpoint, a truncated chain is a valid shorter chain: that is why checkpoints are
        // exported and kept apart (docs/audit.md).
        expect(verifyChain({ entries: chain.slice(0, k) }).ok).toBe(true);
      }),
      runs,
    );
  });

  it('detects a rewritten suffix (all hashes recomputed) at the checkpoint it contradicts', () => {
    const k = 70_000;
    const forged = sealEvents(
      { seq: k, hash: (chain[k - 1] as AuditEntry).hash },
      chain.slice(k).map((e) => ({ ...e, actor: e.actor === 'system:sweeper' ? 'admin:mallory' : e.actor })),
    );
    const result = verifyChain({
      entries: [...chain.slice(0, k), ...forged],
      checkpoints: [{ seq: 80_000, hash: (chain[79_999] as AuditEntry).hash }],
    });
    expect(result.problem).toMatchObject({ kind: 'modified', index: 80_000 });
  });

  it('finds the exact index on small chains for any single tampering (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.nat(),
        fc.constantFrom('modify', 'delete', 'swap'),
        (n, pick, kind) => {
          const small = sealEvents(GENESIS_HEAD, events(n, pick));
          const k = pick % (n - 1);
          const tampered = small.slice();
          if (kind === 'modify') tampered[k] = { ...(small[k] as AuditEntry), time: 0 };
          if (kind === 'delete') tampered.splice(k, 1);
          if (kind === 'swap')
            [tampered[k], tampered[k + 1]] = [small[k + 1] as AuditEntry, small[k] as AuditEntry];
          const expected = { modify: 'modified', delete: 'deleted', swap: 'reordered' }[kind];
          expect(verifyChain({ entries: tampered }).problem).toMatchObject({ kind: expected, index: k + 1 });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('canonical JSON (RFC 8785)', () => {
  it('writes entries exactly as the generic canonicalization does', () => {
    const text = fc.string({ unit: 'binary' });
    fc.assert(
      fc.property(
        fc.record(
          {
            action: fc.constantFrom(...AUDIT_ACTIONS),
            actor: text,
            subject: text,
            node: text,
            time: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
            details: fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null))),
          },
          { requiredKeys: ['action', 'actor', 'subject', 'node', 'time'] },
        ),
        fc.nat(),
        (event, seq) => {
          expect(canonicalEntry(seq, event)).toBe(canonicalJson({ ...eventOf(event), seq }));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('sorts keys by UTF-16 code units and serializes numbers as ECMAScript does', () => {
    // RFC 8785 §3.2.3's sorting example keys, and §3.2.2.3 number forms.
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '1': 4, '\u0080': 5, '\u00f6': 6 })).toBe(
      '{"\\r":2,"1":4,"\u0080":5,"\u00f6":6,"\u20ac":1,"\ud83d\ude00":3}',
    );
    expect(canonicalJson([1e21, 0.000001, -0, Number.parseFloat('333333333.33333329'), null, true])).toBe(
      '[1e+21,0.000001,0,333333333.3333333,null,true]',
    );
    expect(canonicalJson({ b: { d: 1, c: [2, { f: 'x', e: undefined }] }, a: 'q' })).toBe(
      '{"a":"q","b":{"c":[2,{"f":"x"}],"d":1}}',
    );
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
  });
});

describe('checkpoints and exports', () => {
  it('signs checkpoints that verify against the JWKS, and rejects a tampered one', async () => {
    const pems = await generateKeyPairPems('sig');
    const signer = await importPrivateKey(pems.privatePem, 'sig');
    const jwks = { keys: [signer.publicJwk] };
    const chain = sealEvents(GENESIS_HEAD, events(2000));
    const head = chain[1999] as AuditEntry;
    const cp = await signCheckpoint(
      { seq: head.seq, hash: head.hash, time: 1_780_000_000_000, node: 'n1' },
      signer,
    );
    await expect(verifyCheckpoint(cp.jws, jwks)).resolves.toMatchObject({ seq: 2000, hash: head.hash });

    const [h, p, s] = cp.jws.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ seq: 1500, hash: head.hash, node: 'n1', time: 1 }),
    ).toString('base64url');
    await expect(verifyCheckpoint(`${h}.${forgedPayload}.${s}`, jwks)).rejects.toThrow();
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`;

    const file = [
      ...chain.map((e) => exportLine({ type: 'entry', ...e })),
      exportLine({ type: 'checkpoint', ...cp }),
    ];
    const good = await verifyAuditFiles([file.join('')], { jwks });
    expect(good).toMatchObject({ ok: true, count: 2000, checkpointsChecked: 1, signaturesChecked: true });

    const bad = await verifyAuditFiles(
      [file.slice(0, -1).join('') + exportLine({ type: 'checkpoint', ...cp, jws: flipped })],
      {
        jwks,
      },
    );
    expect(bad.problem).toMatchObject({ kind: 'bad-checkpoint-signature', index: 2000 });

    // A key that is not the cluster's: the same failure.
    const other = await importPrivateKey((await generateKeyPairPems('sig')).privatePem, 'sig');
    const foreign = await signCheckpoint({ seq: 2000, hash: head.hash, time: 1, node: 'x' }, other);
    const wrongKey = await verifyAuditFiles([file.join('')], { jwks, extraCheckpoints: [foreign.jws] });
    expect(wrongKey.problem).toMatchObject({ kind: 'bad-checkpoint-signature', index: 2000 });

    // Truncation against an exported checkpoint kept apart from the (truncated) export.
    const truncated = chain.slice(0, 1234).map((e) => exportLine({ type: 'entry', ...e }));
    const cut = await verifyAuditFiles([truncated.join('')], { jwks, extraCheckpoints: [cp.jws] });
    expect(cut.problem).toMatchObject({ kind: 'truncated', index: 1235 });
  });

  it('reports pending records and a torn last line as an unsealed tail, not tampering', async () => {
    const chain = sealEvents(GENESIS_HEAD, events(100));
    const lines = chain.map((e) => exportLine({ type: 'entry', ...e }));
    const pending = exportLine({ type: 'pending', ...events(1, 100)[0]! });
    const torn = pending.slice(0, 30);
    const result = await verifyAuditFiles([lines.join('') + pending + torn]);
    expect(result).toMatchObject({ ok: true, count: 100, unsealedTail: 2 });
    // A broken line in the middle is not a crash artefact.
    const middle = await verifyAuditFiles([
      `${lines.slice(0, 50).join('')}${torn}\n${lines.slice(50).join('')}`,
    ]);
    expect(middle.problem).toMatchObject({ kind: 'malformed' });
  });

  it('verifies archived segments and the live export as one chain, in any file order', async () => {
    const chain = sealEvents(GENESIS_HEAD, events(3000));
    const segment = (from: number, to: number) =>
      (from > 0
        ? exportLine({ type: 'anchor', seq: from, hash: (chain[from - 1] as AuditEntry).hash })
        : '') +
      chain
        .slice(from, to)
        .map((e) => exportLine({ type: 'entry', ...e }))
        .join('');
    const files = [segment(2000, 3000), segment(0, 1000), segment(1000, 2000)];
    await expect(verifyAuditFiles(files)).resolves.toMatchObject({ ok: true, count: 3000, partial: false });
    // The live part alone: the earlier history is missing, accepted only when a partial check is asked for.
    await expect(verifyAuditFiles([files[0] as string])).resolves.toMatchObject({
      ok: false,
      partial: true,
      problem: { kind: 'history-missing', index: 1 },
    });
    await expect(verifyAuditFiles([files[0] as string], { allowPartial: true })).resolves.toMatchObject({
      ok: true,
      count: 1000,
      firstSeq: 2001,
      partial: true,
    });
    // A whole segment missing is a deletion at its first seq.
    await expect(verifyAuditFiles([files[0] as string, files[1] as string])).resolves.toMatchObject({
      problem: { kind: 'deleted', index: 1001 },
    });
  });

  describe('anchors', () => {
    const time = 1_780_000_000_000;
    let chain: AuditEntry[];
    let signer: Awaited<ReturnType<typeof importPrivateKey>>;
    let jwks: { keys: unknown[] };
    const at = (seq: number) => chain[seq - 1] as AuditEntry;
    const cp = (seq: number, key = signer) =>
      signCheckpoint({ seq, hash: at(seq).hash, time, node: 'n1' }, key).then((c) => c.jws);
    const entries = (from: number, to: number) =>
      chain
        .slice(from, to)
        .map((e) => exportLine({ type: 'entry', ...e }))
        .join('');
    const checkpointLine = async (seq: number) =>
      exportLine({ type: 'checkpoint', seq, hash: at(seq).hash, time, node: 'n1', jws: await cp(seq) });

    beforeAll(async () => {
      chain = sealEvents(GENESIS_HEAD, events(3000));
      signer = await importPrivateKey((await generateKeyPairPems('sig')).privatePem, 'sig');
      jwks = { keys: [signer.publicJwk] };
    });

    it('an honest archived chain verifies as one, counting only checkpoints compared', async () => {
      const anchorLine = async (seq: number) =>
        exportLine({ type: 'anchor', seq, hash: at(seq).hash, jws: await cp(seq) });
      const files = [
        exportLine({ type: 'anchor', ...GENESIS_HEAD }) +
          entries(0, 1000) +
          (await checkpointLine(500)) +
          (await checkpointLine(1000)),
        (await anchorLine(1000)) + entries(1000, 2000) + (await checkpointLine(2000)),
        (await anchorLine(2000)) +
          entries(2000, 3000) +
          (await checkpointLine(2000)) +
          (await checkpointLine(3000)),
      ];
      const full = await verifyAuditFiles(files, { jwks: jwks as never });
      expect(full).toMatchObject({
        ok: true,
        count: 3000,
        partial: false,
        checkpointsChecked: 4,
        checkpointsSkipped: 0,
      });
      // The live part alone, with --allow-partial: its own checkpoint at the anchor signs it, compared
      // with nothing before it, so it is not counted.
      const live = await verifyAuditFiles([files[2] as string], { jwks: jwks as never, allowPartial: true });
      expect(live).toMatchObject({ ok: true, partial: true, count: 1000, checkpointsChecked: 1 });
    });

    it('the moved-anchor attack fails: rows 1..K deleted with their checkpoints, the anchor moved to K', async () => {
      const kept = [await cp(500), await cp(1000)];
      // An unsigned anchor, as editing the store leaves it.
      const after =
        exportLine({ type: 'anchor', seq: 1500, hash: at(1500).hash }) +
        entries(1500, 3000) +
        (await checkpointLine(3000));
      // Verified with the JWKS and the checkpoints a verifier kept from earlier exports.
      const verifyKept = (file: string, allowPartial: boolean) =>
        verifyAuditFiles([file], { jwks: jwks as never, extraCheckpoints: kept, allowPartial });
      for (const allowPartial of [false, true]) {
        const unsigned = await verifyKept(after, allowPartial);
        expect(unsigned).toMatchObject({ ok: false, problem: { kind: 'bad-anchor', index: 1500 } });
        // Without the JWKS nothing can be checked, but the kept checkpoints still say history is missing.
        const blind = await verifyAuditFiles([after], { extraCheckpoints: kept, allowPartial });
        expect(blind).toMatchObject({
          ok: false,
          checkpointsChecked: 1,
          checkpointsSkipped: 2,
          problem: { kind: 'history-missing' },
        });
      }
      // Moved to a seq with a genuine checkpoint, which the store keeps and so signs the anchor: the kept
      // checkpoints at or before it were compared with nothing, so the history is missing.
      const signedAfter =
        exportLine({ type: 'anchor', seq: 1000, hash: at(1000).hash, jws: await cp(1000) }) +
        entries(1000, 3000) +
        (await checkpointLine(1000)) +
        (await checkpointLine(3000));
      for (const allowPartial of [false, true]) {
        const result = await verifyKept(signedAfter, allowPartial);
        expect(result).toMatchObject({
          ok: false,
          checkpointsChecked: 1,
          checkpointsSkipped: 2,
          problem: { kind: 'history-missing', index: 1 },
        });
      }
    });

    it('a forged anchor fails: signed by another key, or a genuine signature for another point', async () => {
      const other = await importPrivateKey((await generateKeyPairPems('sig')).privatePem, 'sig');
      const tail = entries(1500, 3000);
      const forged = exportLine({
        type: 'anchor',
        seq: 1500,
        hash: at(1500).hash,
        jws: await cp(1500, other),
      });
      const borrowed = exportLine({ type: 'anchor', seq: 1500, hash: at(1500).hash, jws: await cp(2000) });
      for (const anchor of [forged, borrowed]) {
        const result = await verifyAuditFiles([anchor + tail], { jwks: jwks as never, allowPartial: true });
        expect(result).toMatchObject({ ok: false, problem: { kind: 'bad-anchor', index: 1500 } });
      }
      // A forged anchor inside an otherwise complete chain is a bad signature too.
      const whole = await verifyAuditFiles([entries(0, 1500), forged + tail], { jwks: jwks as never });
      expect(whole.problem).toMatchObject({ kind: 'bad-checkpoint-signature', index: 1500 });
    });

    it('deleting the whole early history fails unless a partial check is asked for', async () => {
      const live =
        exportLine({ type: 'anchor', seq: 2000, hash: at(2000).hash, jws: await cp(2000) }) +
        entries(2000, 3000);
      const strict = await verifyAuditFiles([live], { jwks: jwks as never });
      expect(strict).toMatchObject({
        ok: false,
        partial: true,
        problem: { kind: 'history-missing', index: 1 },
      });
      expect(
        verifyChain({
          entries: chain.slice(2000),
          anchor: { seq: 2000, hash: at(2000).hash },
          allowPartial: false,
        }),
      ).toMatchObject({ ok: false, problem: { kind: 'history-missing' } });
    });
  });
});
