import { join } from 'node:path';
import { type NodeProcess, spawnNode } from '@leasehold/devtools';
import { ADMIN_TOKEN } from './test-app.js';

/**
 * `leasehold serve` as a real process on SQLite in `<dir>/data`, on a port the OS picks, trusting the
 * vendor key in `<dir>/vendor.pub.pem`, with the test admin token; ready once /readyz answers. The node
 * the crash, audit-crash and monitoring tests start, SIGKILL and start again on the same data.
 */
export function spawnSqliteNode(dir: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  return spawnNode({
    args: [
      '--log-level',
      'warn',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'data'),
      '--vendor-key',
      join(dir, 'vendor.pub.pem'),
    ],
    env: { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    readiness: 'readyz',
    startTimeoutMs: 15_000,
  });
}
