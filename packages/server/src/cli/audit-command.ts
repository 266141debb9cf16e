import { closeSync, createWriteStream, fsyncSync, openSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type ExportVerification, parseAuditFile, verifyAuditFiles } from '@leasehold/domain';
import type { Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { ApiError, apiTarget } from './api-client.js';

/** Exit code when the trail was tampered with (1 is any other failure: a missing file, a bad JWKS). */
export const EXIT_TAMPERED = 2;

interface ExportOpts {
  readonly server?: string;
  readonly url?: string;
  readonly token?: string;
  readonly dataDir?: string;
  readonly out: string;
}

interface VerifyOpts {
  readonly checkpoint: string[];
  readonly jwks?: string;
  readonly json?: boolean;
  readonly allowPartial?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail (docs/audit.md)');

  audit
    .command('export')
    .description("write a node's audit trail as NDJSON (entries, checkpoints, pending records)")
    .option('-s, --server <url>', 'node URL (env LEASEHOLD_SERVER; default http://127.0.0.1:7300)')
    .option('--url <url>', 'the same as --server')
    .option(
      '-t, --token <token>',
      'admin or operator token (env LEASEHOLD_TOKEN; default <data-dir>/admin.token)',
    )
    .option('-d, --data-dir <dir>', 'where to find admin.token (default ./data)')
    .requiredOption('-o, --out <file>', 'where to write the export')
    .action(async (opts: ExportOpts) => {
      const summary = await exportAudit(opts);
      process.stdout.write(
        `${opts.out}: ${summary.entries} entries (head ${summary.headSeq}), ${summary.checkpoints} checkpoints, ` +
          `${summary.pending} pending\n`,
      );
    });

  audit
    .command('verify <files...>')
    .description('verify archive segments and an export as one hash chain; exit 2 on tampering')
    .option(
      '-c, --checkpoint <file>',
      'checkpoints exported earlier and kept apart (NDJSON or JWS lines); repeatable',
      collect,
      [],
    )
    .option('--jwks <file|url>', "the cluster's JWKS (/.well-known/jwks.json) to check checkpoint signatures")
    .option(
      '--allow-partial',
      'accept a chain whose history before its signed anchor is not given (kept checkpoints there still fail)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], opts: VerifyOpts) => {
      const result = await verifyFiles(files, opts);
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : report(result));
      if (!result.ok) process.exitCode = EXIT_TAMPERED;
    });
}

/** Streams `/v1/audit/export` to a file and fsyncs it. */
export async function exportAudit(
  opts: ExportOpts,
): Promise<{ entries: number; checkpoints: number; pending: number; headSeq: number }> {
  const { server, token } = apiTarget({ ...opts, server: opts.server ?? opts.url });
  let response: Response;
  try {
    response = await fetch(`${server}/v1/audit/export`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(300_000),
    });
  } catch (err) {
    throw new ApiError(
      0,
      'UNREACHABLE',
      `cannot reach ${server}: ${(err as Error).cause ?? (err as Error).message}`,
    );
  }
  if (!response.ok || !response.body) {
    const text = await response.text();
    const problem = (() => {
      try {
        return JSON.parse(text) as { code?: string; detail?: string };
      } catch {
        return {};
      }
    })();
    throw new ApiError(response.status, problem.code ?? String(response.status), problem.detail ?? text);
  }
  await pipeline(
    Readable.fromWeb(response.body as WebReadableStream),
    createWriteStream(opts.out, { mode: 0o600 }),
  );
  const fd = openSync(opts.out, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const parsed = parseAuditFile(readFileSync(opts.out, 'utf8'));
  return {
    entries: parsed.entries.length,
    checkpoints: parsed.checkpoints.length,
    pending: parsed.pending,
    headSeq: parsed.entries[parsed.entries.length - 1]?.seq ?? parsed.anchors[0]?.seq ?? 0,
  };
}

export async function verifyFiles(files: readonly string[], opts: VerifyOpts): Promise<ExportVerification> {
  const texts = files.map((file) => readFileSync(file, 'utf8'));
  const extraCheckpoints = opts.checkpoint.flatMap((file) => checkpointsIn(readFileSync(file, 'utf8')));
  const jwks = opts.jwks ? await loadJwks(opts.jwks) : undefined;
  return verifyAuditFiles(texts, { jwks, extraCheckpoints, allowPartial: opts.allowPartial === true });
}

/** Checkpoint JWSs in a file: export lines of type checkpoint, or bare compact JWS lines. */
function checkpointsIn(text: string): string[] {
  const fromExport = parseAuditFile(text).checkpoints.map((c) => c.jws);
  const bare = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(line));
  return [...fromExport, ...bare];
}

async function loadJwks(source: string): Promise<JSONWebKeySet> {
  const text = /^https?:\/\//.test(source)
    ? await (await fetch(source, { signal: AbortSignal.timeout(10_000) })).text()
    : readFileSync(source, 'utf8');
  const jwks = JSON.parse(text) as JSONWebKeySet;
  if (!Array.isArray(jwks.keys)) throw new Error(`${source} is not a JWK Set (no "keys")`);
  return jwks;
}

/** The human report: one line per fact, the verdict last. */
export function report(result: ExportVerification): string {
  const lines = [
    `entries: ${result.count} checked (seq ${result.firstSeq}…${result.head.seq}) in ${result.files} file(s)` +
      (result.partial
        ? `; history before ${result.firstSeq} was not given (anchor ${result.signaturesChecked ? 'signature verified' : 'NOT signature-checked'})`
        : ''),
    `head: ${result.head.seq} ${result.head.hash}`,
    `checkpoints: ${result.checkpointsChecked} compared with the chain, ${result.signaturesChecked ? 'with signatures verified against the JWKS' : 'NOT signature-checked (pass --jwks)'}` +
      (result.checkpointsSkipped > 0
        ? `; ${result.checkpointsSkipped} kept before seq ${result.firstSeq}, NOT compared (their history is missing)`
        : ''),
  ];
  if (result.unsealedTail > 0) {
    lines.push(
      `warning: unsealed tail of ${result.unsealedTail} record(s): written but not yet sealed into the chain ` +
        '(a crash or export mid-append leaves these); not tampering',
    );
  }
  lines.push(
    result.problem
      ? `TAMPERED: ${result.problem.kind} at index ${result.problem.index}: ${result.problem.message}`
      : result.partial
        ? `OK (partial, --allow-partial): the chain from ${result.firstSeq} is intact; earlier history NOT verified`
        : 'OK: the chain is intact',
  );
  return `${lines.join('\n')}\n`;
}
