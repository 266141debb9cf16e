import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { podman, waitForOk } from './podman.js';

// The image built once by global-setup.ts from the repository's Dockerfile. One volume and container
// names unique to this run; everything is removed at the end even when a test fails.
const image = inject('image');
const tag = `lh-img-${process.pid}`;
const volume = `${tag}-data`;
const adminToken = 'lh_admin_container_test_token_0123456789';

async function startContainer(name: string): Promise<string> {
  await podman([
    'run',
    '--detach',
    '--name',
    name,
    '--publish',
    '127.0.0.1::7300',
    '--volume',
    `${volume}:/data`,
    '--env',
    `LEASEHOLD_ADMIN_TOKEN=${adminToken}`,
    image,
  ]);
  const { stdout } = await podman(['port', name, '7300/tcp']);
  const url = `http://${stdout.trim().split('\n')[0]}`;
  expect(await waitForOk(`${url}/readyz`, 20_000)).toBe(200);
  return url;
}

const removeContainer = (name: string) => podman(['rm', '--force', '--time', '0', name]).catch(() => {});

describe('container image', () => {
  let url = '';

  beforeAll(async () => {
    await podman(['volume', 'create', volume]);
    url = await startContainer(`${tag}-a`);
  });

  afterAll(async () => {
    await removeContainer(`${tag}-a`);
    await removeContainer(`${tag}-b`);
    await podman(['volume', 'rm', '--force', volume]).catch(() => {});
  });

  it('runs as a non-root user and listens on 0.0.0.0:7300 by default', async () => {
    const { stdout: user } = await podman(['image', 'inspect', image, '--format', '{{.Config.User}}']);
    expect(user.trim()).toBe('10001:10001');
    const { stdout: ids } = await podman([
      'exec',
      `${tag}-a`,
      'node',
      '-e',
      'console.log(process.getuid(), process.getgid())',
    ]);
    expect(ids.trim()).toBe('10001 10001');
    const { stdout: env } = await podman(['image', 'inspect', image, '--format', '{{json .Config.Env}}']);
    expect(JSON.parse(env)).toContain('LEASEHOLD_HOST=0.0.0.0');
  });

  it('answers /readyz and its HEALTHCHECK passes', async () => {
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready' });
    // Podman runs health checks from systemd timers, absent here: run the image's check once by hand.
    // `healthcheck run` exits non-zero when the check fails.
    await podman(['healthcheck', 'run', `${tag}-a`]);
    const { stdout } = await podman(['inspect', `${tag}-a`, '--format', '{{.State.Health.Status}}']);
    expect(stdout.trim()).toBe('healthy');
  });

  it('keeps its data on the volume across a new container', async () => {
    const created = await fetch(`${url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'operator', name: 'survives-restart' }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };

    await podman(['stop', '--time', '10', `${tag}-a`]);
    await removeContainer(`${tag}-a`);
    url = await startContainer(`${tag}-b`);

    // The operator token made in the first container authenticates in the second: the token store
    // (SQLite in /data) and the KEK made at first start (/data/kek) both survived.
    const listed = await fetch(`${url}/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(403); // known token, operator scope: listing tokens is for admins
    const asAdmin = await fetch(`${url}/v1/tokens`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(asAdmin.status).toBe(200);
    expect(JSON.stringify(await asAdmin.json())).toContain('survives-restart');
  });

  it('stops cleanly on `podman stop` well within its grace period', async () => {
    const started = Date.now();
    await podman(['stop', '--time', '10', `${tag}-b`], 30_000);
    const tookMs = Date.now() - started;
    const { stdout } = await podman(['inspect', `${tag}-b`, '--format', '{{.State.ExitCode}}']);
    // 0: the node handled SIGTERM and exited by itself; 137 would mean podman had to SIGKILL it.
    expect(Number(stdout.trim())).toBe(0);
    expect(tookMs).toBeLessThan(8_000);
    const { stdout: logs } = await podman(['logs', `${tag}-b`]);
    expect(logs).toContain('shutting down');
  });
});
