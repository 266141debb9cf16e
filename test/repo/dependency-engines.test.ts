import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

// Node 20 is the runtime we support first (with 22 and 24): no installed package may declare engines that
// exclude it. fastify 5.12 pulled in cookie 2 (engines >=22) through light-my-request 6.8; the root
// package.json pins light-my-request 6.6 with `overrides` because of this test.
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('dependencies', () => {
  it.each(['20.19.0', '22.22.0', '24.11.0'])('every installed package allows Node %s', (node) => {
    const excluded = Object.entries(lock.packages)
      .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node)
      .filter(
        ([, p]) => !semver.satisfies(node, (p.engines as { node: string }).node, { includePrerelease: true }),
      )
      .map(([path, p]) => `${path}@${p.version} (${(p.engines as { node: string }).node})`);
    expect(excluded).toEqual([]);
  });
});
