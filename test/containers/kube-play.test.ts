import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { adaptForKubePlay, type KubeObject, podName } from './kube-play-manifest.js';
import { missingTools, podman, sh, waitForOk } from './podman.js';

/**
 * Issue 13: "podman kube play runs the node Deployment and it becomes ready". The Deployment comes from
 * `kubectl kustomize deploy/kubernetes/base`, adapted only where a single machine without Kubernetes needs
 * it (kube-play-manifest.ts says what and why), with the image the global setup built; etcd 3.5 runs on
 * loopback beside it. Podman 4.3 plays no readiness probe, so the test polls /readyz itself.
 */
const image = inject('image');
const suffix = `kp${process.pid}`;
const adminToken = `lh_admin_${randomBytes(32).toString('base64url')}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('podman kube play of the node Deployment', () => {
  let dir: string;
  let etcd: EtcdCluster | undefined;
  let manifestFile: string;
  let deployment: KubeObject;
  let port: number;

  beforeAll(async () => {
    expect(missingTools(['podman', 'kubectl'])).toEqual([]);
    dir = mkdtempSync(join(tmpdir(), 'lh-kube-play-'));
    etcd = await EtcdCluster.start({ members: 1, dataDir: join(dir, 'etcd') });
    await etcd.waitHealthy(15_000);
    port = await freePort();
    const { stdout: rendered } = await sh('kubectl', ['kustomize', 'deploy/kubernetes/base'], {
      env: process.env,
    });
    const adapted = adaptForKubePlay(rendered, {
      image,
      etcdEndpoints: etcd.clientUrls().join(','),
      port,
      kek: randomBytes(32).toString('base64'),
      adminToken,
      suffix,
    });
    deployment = adapted.deployment;
    manifestFile = join(dir, 'node.yaml');
    writeFileSync(manifestFile, adapted.manifest);
    const secretFile = join(dir, 'secret.yaml');
    writeFileSync(secretFile, adapted.secret, { mode: 0o600 });
    await podman(['secret', 'create', `leasehold-secrets-${suffix}`, secretFile]);
  }, 60_000);

  afterAll(async () => {
    await podman(['kube', 'down', manifestFile], 60_000).catch(() => undefined);
    await podman(['secret', 'rm', `leasehold-secrets-${suffix}`]).catch(() => undefined);
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it('plays the Deployment, runs it as rendered (uid 10001, read-only root, no capabilities), and it becomes ready', async () => {
    const started = Date.now();
    await podman(['kube', 'play', '--replace', manifestFile], 120_000);
    const status = await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000);
    const readyAfterMs = Date.now() - started;
    const pod = podName(`leasehold-${suffix}`);
    const container = `${pod}-leasehold`;
    const logs = await podman(['logs', container]).then(
      (r) => r.stdout + r.stderr,
      (err: Error) => err.message,
    );
    expect(status, logs.slice(-3000)).toBe(200);

    // The pod runs what the manifest says, not the image's defaults.
    const { stdout } = await podman([
      'inspect',
      container,
      '--format',
      '{{.Config.User}}|{{.HostConfig.ReadonlyRootfs}}|{{json .HostConfig.CapDrop}}|{{json .HostConfig.CapAdd}}|{{json .HostConfig.SecurityOpt}}',
    ]);
    const [user, readOnly, capDrop, capAdd, securityOpt] = stdout.trim().split('|');
    expect(user).toBe('10001:10001');
    expect(readOnly).toBe('true');
    // `drop: ["ALL"]`: podman drops every capability of its default set, and adds none.
    expect(JSON.parse(capDrop ?? '[]')).toEqual(
      expect.arrayContaining(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_NET_RAW', 'CAP_SETUID', 'CAP_SETGID']),
    );
    expect(JSON.parse(capAdd ?? 'null') ?? []).toEqual([]);
    expect(securityOpt).toContain('no-new-privileges');
    expect(deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);

    // It serves: the node joined the cluster through the loopback etcd, with the Secret's admin token.
    const cluster = (await (
      await fetch(`http://127.0.0.1:${port}/v1/cluster`, {
        headers: { authorization: `Bearer ${adminToken}` },
      })
    ).json()) as { store: string; nodes: { id: string; healthy: boolean }[] };
    expect(cluster.store).toBe('etcd');
    expect(cluster.nodes.map((n) => [n.id, n.healthy])).toEqual([[pod, true]]);
    process.stdout.write(`kube play: node Deployment ready ${readyAfterMs} ms after \`podman kube play\`\n`);
  });
});
