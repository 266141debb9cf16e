import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Issue 13, item 7: `npm ci && npm run cluster` (or `bench:ha`) from a fresh clone failed with "no etcd
// binary found": only `npm test` fetched etcd. Every npm script that starts etcd fetches it first
// (scripts/fetch-etcd.sh returns at once when the cached 3.5 binary is there).
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};
const startsEtcd = /leasehold dev cluster|bench\/ha\.mjs|vitest run/;

describe('npm scripts that start etcd', () => {
  it('fetch etcd first: cluster, bench:ha and test', () => {
    const etcdScripts = Object.entries(pkg.scripts).filter(([, command]) => startsEtcd.test(command));
    expect(etcdScripts.map(([name]) => name).sort()).toEqual(['bench:ha', 'cluster', 'test']);
    for (const [name, command] of etcdScripts) {
      const fetchAt = command.indexOf('scripts/fetch-etcd.sh &&');
      const startAt = command.search(startsEtcd);
      expect(fetchAt, `${name}: ${command}`).toBeGreaterThanOrEqual(0);
      expect(fetchAt, `${name}: ${command}`).toBeLessThan(startAt);
    }
  });
});
