import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OPERATION_IDS } from '../src/http/operation-ids.js';
import { makeTestApp } from './helpers/test-app.js';

const run = promisify(execFile);

/** The generated OpenAPI document of a node with every route, as /openapi.json serves it. */
async function spec(): Promise<
  { paths: Record<string, Record<string, { operationId?: string }>> } & Record<string, unknown>
> {
  const t = await makeTestApp();
  try {
    return (await t.call({ method: 'GET', url: '/openapi.json', token: null })).json();
  } finally {
    await t.close();
  }
}

describe('OpenAPI document', () => {
  it('names every operation with a stable, unique operationId, and says where and under what license it is served', async () => {
    const doc = await spec();
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        key: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
        id: op.operationId,
      })),
    );
    expect(ops.length).toBeGreaterThanOrEqual(25);
    for (const op of ops) expect(op.id, op.key).toBe(OPERATION_IDS[op.key]);
    expect(new Set(ops.map((op) => op.id)).size).toBe(ops.length);
    expect(doc.servers).toEqual([{ url: '/', description: 'this Leasehold node' }]);
    expect((doc.info as { license?: unknown }).license).toEqual({
      name: 'Apache-2.0',
      identifier: 'Apache-2.0',
    });
  });

  it("passes Redocly's recommended ruleset with no errors (@redocly/cli lint)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(await spec()));
      const require = createRequire(import.meta.url);
      const pkgPath = require.resolve('@redocly/cli/package.json');
      const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> };
      const cli = join(dirname(pkgPath), pkg.bin.redocly ?? '');
      // Telemetry and the update check off: the test stays on this machine.
      const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
      const result = await run(
        process.execPath,
        [cli, 'lint', file, '--extends=recommended', '--format=json'],
        { env, cwd: dir, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      const report = JSON.parse(result.stdout) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; severity: string; message: string }[];
      };
      const errors = report.problems.filter((p) => p.severity === 'error');
      expect(errors.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals.errors).toBe(0);
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
