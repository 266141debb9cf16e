import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { leaseholdBin } from '@leasehold/devtools';
import { type LeaseholdError, ManualClock } from '@leasehold/domain';
import { loadConfig, startNode } from '@leasehold/server';
import { KEK_FILE, LOG_REDACT, resolveKek } from '@leasehold/server/internal';
import { kekFingerprint, SqliteStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, makeTestApp, T0, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-secrets-'));
  dirs.push(dir);
  return dir;
};
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('no secret in API responses or logs', () => {
  it('license files, private keys and token secrets appear in no response (but the one that creates a token, and the license a grant is bound to) and in no log line', async () => {
    const lines: string[] = [];
    const logger = {
      level: 'trace',
      redact: LOG_REDACT,
      stream: { write: (line: string) => lines.push(line) },
    };
    t = await makeTestApp({ deps: { logger } });
    const file = await t.vendor.issue({ customer: 'Acme' });
    const [, payload] = file.split('.');
    const privatePem = (await t.store.listSigningKeys())[0]?.privatePem ?? '';
    const pemBody = privatePem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    expect(pemBody.length).toBeGreaterThan(40);
    // The cluster identity key (issue 11): the store hands back the one it keeps.
    const identityPem = (await t.store.ensureClusterIdentity({ kid: 'x', privatePem: 'x', createdAt: 0 }))
      .privatePem;
    const identityBody = identityPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    expect(identityBody.length).toBeGreaterThan(40);

    const bodies: string[] = [];
    const call = async (options: Parameters<TestApp['call']>[0]) => {
      const res = await t?.call(options);
      if (!res) throw new Error('no app');
      bodies.push(res.body);
      return res;
    };
    expect((await call({ method: 'POST', url: '/v1/licenses', payload: { license: file } })).statusCode).toBe(
      201,
    );
    const created = await t.call({ method: 'POST', url: '/v1/tokens', payload: { scope: 'operator' } });
    const secret = created.json().token as string;
    // A grant carries the signed license it is bound to, by design (the SDK checks it against the vendor's
    // keys, issue 11); everything else in it is held to the rule like any answer.
    const lease = await t.call({
      method: 'POST',
      url: '/v1/leases',
      payload: { feature: 'solver', client: { id: 'c' }, requestId: 'request-1' },
    });
    expect(lease.statusCode).toBe(201);
    const { chain, ...grant } = lease.json();
    expect(chain.license).toBe(file);
    bodies.push(JSON.stringify({ ...grant, chain: { ...chain, license: undefined } }));
    for (const url of ['/v1/licenses', '/v1/licenses/lic-1', '/v1/leases', '/v1/tokens', '/v1/cluster']) {
      await call({ method: 'GET', url });
    }
    await call({ method: 'GET', url: '/.well-known/jwks.json', token: null });
    await call({ method: 'GET', url: '/openapi.json', token: null });
    await call({ method: 'GET', url: '/v1/leases', token: secret });
    await call({
      method: 'POST',
      url: `/v1/leases/${lease.json().id}/force-release`,
      token: secret,
      payload: {},
    });
    await call({ method: 'GET', url: '/v1/licenses', token: 'lh_admin_wrongwrongwrongwrongwrong' });
    // What a careless log call would print: pino redacts these paths.
    t.app.log.info({ license: file, token: secret, privatePem, kek: 'a2V5', raw: file }, 'careless');

    const secrets = { file, payload, pemBody, identityBody, secret, admin: ADMIN_TOKEN };
    for (const [name, value] of Object.entries(secrets)) {
      if (!value) throw new Error(name);
      expect(bodies.filter((b) => b.includes(value)).length, `${name} in a response`).toBe(0);
      expect(
        lines.filter((l) => l.includes(value)).map((l) => l.slice(0, 300)),
        `${name} in the log`,
      ).toEqual([]);
    }
    expect(lines.join('')).toContain('[Redacted]');
    expect(lines.length).toBeGreaterThan(20);
  });
});

describe('key-encryption key at start', () => {
  const config = (dataDir: string, extra: Record<string, unknown> = {}) =>
    loadConfig({ env: {}, flags: { dataDir, port: 0, logLevel: 'silent', ...extra } });
  const startError = (promise: Promise<unknown>) =>
    promise.then(
      () => 'started',
      (err: unknown) => (err as LeaseholdError).code,
    );

  it('an embedded node makes <dataDir>/kek (0600) once; another KEK then stops it with KEK_MISMATCH', async () => {
    const dataDir = tempDir();
    const first = await startNode(config(dataDir), { logger: false, clock: new ManualClock(T0) });
    await first.ready;
    await first.close();
    expect(statSync(join(dataDir, KEK_FILE)).mode & 0o777).toBe(0o600);
    const again = await startNode(config(dataDir), { logger: false, clock: new ManualClock(T0) });
    await again.ready;
    await again.close();
    const other = join(tempDir(), 'other.kek');
    writeFileSync(other, Buffer.alloc(32, 9).toString('base64'));
    expect(await startError(startNode(config(dataDir, { kekFile: other }), { logger: false }))).toBe(
      'KEK_MISMATCH',
    );
    expect(await startError(startNode(config(dataDir, { kek: 'too-short' }), { logger: false }))).toBe(
      'KEK_INVALID',
    );
  });

  it('an etcd node without a KEK does not start (KEK_INVALID), before it connects anywhere', async () => {
    const dataDir = tempDir();
    const etcd = config(dataDir, { store: 'etcd', etcdEndpoints: ['http://127.0.0.1:9'] });
    expect(await startError(startNode(etcd, { logger: false }))).toBe('KEK_INVALID');
    expect(() => resolveKek({ store: 'etcd' }, dataDir)).toThrow(/shared by every node/);
  });

  it('leasehold kek rotate rewraps the data key of a stopped embedded node; the node starts with the new key only', async () => {
    const dataDir = tempDir();
    const node = await startNode(config(dataDir), { logger: false });
    await node.ready;
    await node.close();
    const newKek = join(tempDir(), 'new.kek');
    writeFileSync(newKek, `${Buffer.alloc(32, 7).toString('base64')}\n`);
    const rotate = () =>
      run(process.execPath, [leaseholdBin(), 'kek', 'rotate', '--new', newKek, '-d', dataDir]);
    const { stdout } = await rotate();
    expect(stdout).toContain(kekFingerprint(Buffer.alloc(32, 7)));
    const wrong = await rotate().catch((err: { stderr: string; code: number }) => err);
    expect((wrong as { stderr: string }).stderr).toContain('KEK_MISMATCH'); // <dataDir>/kek is the old key now
    expect(await startError(startNode(config(dataDir), { logger: false }))).toBe('KEK_MISMATCH');
    const restarted = await startNode(config(dataDir, { kekFile: newKek }), { logger: false });
    await restarted.ready;
    expect((await restarted.store.listSigningKeys()).length).toBe(1);
    await restarted.close();
    const store = new SqliteStore({
      path: join(dataDir, 'leasehold.db'),
      kek: Buffer.alloc(32, 7),
      licenseKeys: { vendorKeys: new Map() },
    });
    await store.close();
  });
});
