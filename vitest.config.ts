import { defineConfig } from 'vitest/config';

// Tests that run real etcd clusters and node processes, kill and pause them, and measure outages: they
// run one file at a time after the rest, so that two of them never share the machine's two cores.
const clusterTests = [
  'packages/server/test/ha/**/*.test.ts',
  'packages/store/test/etcd-*.test.ts',
  'packages/devtools/test/**/*.test.ts',
  'packages/client/test/cluster/*.test.ts',
  'packages/server/test/tls/**/*.test.ts',
  'packages/dashboard/test/browser/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...clusterTests],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: clusterTests,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
