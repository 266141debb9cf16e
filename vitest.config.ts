import { defineConfig } from 'vitest/config';

// Tests that run real etcd clusters and node processes, kill and pause them, and measure outages: they
// run one file at a time after the rest, so that two of them never share the machine's two cores.
const clusterTests = [
  'packages/server/test/ha/**/*.test.ts',
  'packages/server/test/edge/edge-cut.test.ts',
  'packages/store/test/etcd-*.test.ts',
  'packages/devtools/test/**/*.test.ts',
  'packages/client/test/cluster/*.test.ts',
  'packages/server/test/tls/**/*.test.ts',
  'packages/dashboard/test/browser/*.test.ts',
];

// Tests that build the container image (once, in a global setup) and run it with podman, compose, kube
// play, haproxy and systemd-analyze: their own project, one file at a time, after the cluster tests.
const containerTests = ['test/containers/**/*.test.ts'];

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
          exclude: ['**/node_modules/**', ...clusterTests, ...containerTests],
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
      {
        extends: true,
        test: {
          name: 'containers',
          include: containerTests,
          globalSetup: ['test/containers/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
