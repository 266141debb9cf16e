import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingTools, podman, podmanEnv, repoRoot, sh, waitForOk } from './podman.js';

// deploy/compose/compose.yaml brought up with podman-compose (3 etcd, 3 nodes, HAProxy), with the image
// built by global-setup.ts and etcd/HAProxy images made from this machine's binaries (no registry
// here). The compose files are copied to a scratch directory so secrets and keys never land in the
// repository. A client that retries a failed call once (same request id) checks seats out through
// HAProxy while one node container is killed.
const project = `lhc${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'lh-compose-'));
const composeDir = join(dir, 'deploy/compose');
const port = 17_000 + (process.pid % 1000);
const base = `http://127.0.0.1:${port}`;
const cli = join(repoRoot, 'packages/server/bin/leasehold.js');

const env: NodeJS.ProcessEnv = {
  ...podmanEnv,
  LEASEHOLD_IMAGE: inject('image'),
  ETCD_IMAGE: 'localhost/lh-test/etcd:3.5',
  HAPROXY_IMAGE: 'localhost/lh-test/haproxy:2.6',
  LEASEHOLD_PUBLISH: `127.0.0.1:${port}`,
  HAPROXY_STATS_PUBLISH: `127.0.0.1:${port + 1000}`,
};
const compose = (args: readonly string[], timeoutMs = 180_000) =>
  sh('podman-compose', ['-p', project, ...args], { cwd: composeDir, env, timeoutMs });

let adminToken = '';
let clientToken = '';

async function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(3000),
  });
}

beforeAll(async () => {
  const missing = missingTools(['podman-compose', 'podman']);
  if (missing.length > 0) throw new Error(`compose test needs Debian packages: ${missing.join(', ')}`);
  cpSync(join(repoRoot, 'deploy/compose'), composeDir, { recursive: true });
  cpSync(join(repoRoot, 'deploy/haproxy'), join(dir, 'deploy/haproxy'), { recursive: true });
  const images = join(repoRoot, 'test/containers/make-binary-image.sh');
  await sh(images, [env.ETCD_IMAGE!, join(repoRoot, '.cache/etcd/root/usr/bin/etcd'), '/usr/local/bin/etcd']);
  await sh(images, [env.HAPROXY_IMAGE!, '/usr/sbin/haproxy', '/usr/local/sbin/haproxy']);
  await sh(join(composeDir, 'make-secrets.sh'), [], { env: process.env });
  await sh('node', [cli, 'keys', 'generate', '-o', join(composeDir, 'vendor-keys')], { env: process.env });
  adminToken = readFileSync(join(composeDir, 'secrets/admin.env'), 'utf8').trim().split('=')[1]!;
  await compose(['up', '-d']);
  expect(await waitForOk(`${base}/readyz`, 60_000)).toBe(200);
});

afterAll(async () => {
  await compose(['down', '-v', '-t', '2']).catch(() => {});
  await podman(['network', 'rm', '--force', `${project}_default`]).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('compose: 3 etcd + 3 nodes + HAProxy', () => {
  it('installs a license and checks a seat out through HAProxy', async () => {
    const licensePath = join(dir, 'license.jws');
    await sh(
      'node',
      [
        cli,
        'license',
        'issue',
        '-k',
        join(composeDir, 'vendor-keys/vendor.key.pem'),
        '--customer',
        'acme',
      ].concat(['--product', 'cad', '-f', 'cad=50', '--expires', '2099-01-01', '-o', licensePath]),
      { env: process.env },
    );
    const installed = await call('POST', '/v1/licenses', adminToken, {
      license: readFileSync(licensePath, 'utf8').trim(),
    });
    expect(installed.status).toBe(201);
    const { license } = (await installed.json()) as { license: { id: string } };
    const token = await call('POST', '/v1/tokens', adminToken, { scope: 'client', license: license.id });
    expect(token.status).toBe(201);
    clientToken = ((await token.json()) as { token: string }).token;

    const lease = await call('POST', '/v1/leases', clientToken, {
      feature: 'cad',
      client: { id: 'compose-test' },
      requestId: randomUUID(),
    });
    expect(lease.status).toBe(201);
    const { id } = (await lease.json()) as { id: string };
    expect((await call('DELETE', `/v1/leases/${id}?client=compose-test`, clientToken)).status).toBeLessThan(
      300,
    );
  });

  it('keeps checking out through HAProxy while a node container is killed (retry once)', async () => {
    // One attempt: checkout then check-in. A failure is retried once with the same request id
    // (idempotent: a retry cannot take a second seat). Sequential, bounded to 20 s.
    type Outcome = { at: number; firstOk: boolean; ok: boolean };
    const outcomes: Outcome[] = [];
    const attempt = async (requestId: string): Promise<boolean> => {
      try {
        const res = await call('POST', '/v1/leases', clientToken, {
          feature: 'cad',
          client: { id: 'compose-load' },
          requestId,
        });
        if (res.status !== 200 && res.status !== 201) {
          await res.body?.cancel();
          return false;
        }
        const { id } = (await res.json()) as { id: string };
        const done = await call('DELETE', `/v1/leases/${id}?client=compose-load`, clientToken);
        await done.body?.cancel();
        return done.status < 300 || done.status === 404;
      } catch {
        return false;
      }
    };
    const started = Date.now();
    let killedAt = 0;
    while (Date.now() - started < 20_000) {
      if (killedAt === 0 && Date.now() - started > 4_000) {
        await podman(['kill', `${project}_leasehold-2_1`]);
        killedAt = Date.now();
      }
      const requestId = randomUUID();
      const at = Date.now();
      const firstOk = await attempt(requestId);
      const ok = firstOk || (await attempt(requestId));
      outcomes.push({ at, firstOk, ok });
    }
    const firstFailures = outcomes.filter((o) => !o.firstOk);
    // Error window: from the start of the first failed attempt to the start of the next attempt that
    // succeeded at once after the last failure.
    const lastFailure = firstFailures.at(-1);
    const recovered = lastFailure ? outcomes.find((o) => o.at > lastFailure.at && o.firstOk) : undefined;
    const windowMs = lastFailure && recovered ? recovered.at - firstFailures[0]!.at : 0;
    process.stdout.write(
      `compose: ${outcomes.length} checkout+check-in cycles through HAProxy, node killed at ` +
        `${killedAt - started} ms; first-attempt failures ${firstFailures.length} (window ${windowMs} ms); ` +
        `failures after one retry ${outcomes.filter((o) => !o.ok).length}\n`,
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.at > killedAt).length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  });
});
