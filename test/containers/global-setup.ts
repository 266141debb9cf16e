import type { TestProject } from 'vitest/node';
import { missingTools, podman, repoRoot, sh } from './podman.js';

/**
 * Builds the image ONCE for the whole `containers` project (from the real Dockerfile, with base images
 * made from this machine's Node.js, since no registry can be pulled from here) and provides its
 * reference to every test file as `image`. Missing tools fail the run, naming the Debian package.
 */
export default async function setup(project: TestProject): Promise<void> {
  const missing = missingTools(['podman', 'runc']);
  if (missing.length > 0) {
    throw new Error(`container tests need these Debian packages: ${missing.join(', ')} (see .ci/run)`);
  }
  const started = Date.now();
  const { stdout } = await sh('deploy/image/make-local-base.sh', [], { timeoutMs: 300_000 });
  const args = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
  const image = 'localhost/leasehold:test';
  // --format docker keeps HEALTHCHECK (the OCI image format has no field for it). --network=host: npm ci
  // reaches the registry the way the host does.
  await podman(
    [
      'build',
      '--format',
      'docker',
      '--network=host',
      '--build-arg',
      `BUILD_IMAGE=${args.BUILD_IMAGE}`,
      '--build-arg',
      `BASE_IMAGE=${args.BASE_IMAGE}`,
      '-t',
      image,
      repoRoot,
    ],
    600_000,
  );
  const { stdout: size } = await podman(['image', 'inspect', image, '--format', '{{.Size}}']);
  process.stdout.write(
    `containers: image ${image} built in ${Math.round((Date.now() - started) / 1000)} s, ` +
      `${Math.round(Number(size) / 1e6)} MB\n`,
  );
  project.provide('image', image);
}

declare module 'vitest' {
  export interface ProvidedContext {
    image: string;
  }
}
