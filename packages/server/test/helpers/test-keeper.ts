import { AuditKeeper, type AuditKeeperOptions, ClusterKeyring } from '@leasehold/server/internal';
import type { FastifyBaseLogger } from 'fastify';
import type { TestApp } from './test-app.js';

export const silentLog = { warn() {}, info() {}, debug() {} } as unknown as FastifyBaseLogger;

/**
 * The audit keeper a test drives by hand (tick, sealAll): the leader on `test-node`, sealing every second,
 * never checkpointing on a timer or archiving, signing with the app's cluster key. A test names only what
 * it changes (the archive bound, the signer, leadership).
 */
export async function makeTestKeeper(
  t: TestApp,
  options: Pick<AuditKeeperOptions, 'archiveDir'> & Partial<AuditKeeperOptions>,
): Promise<AuditKeeper> {
  const keyring = await ClusterKeyring.load(t.store, t.clock.now());
  return new AuditKeeper(t.store, t.clock, silentLog, {
    node: 'test-node',
    sealIntervalMs: 1000,
    checkpointIntervalMs: 0,
    maxLiveEntries: 0,
    isLeader: () => true,
    signer: () => keyring.signer,
    ...options,
  });
}
