import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

let cluster: Promise<{ urls: string[]; stop(): Promise<void> }> | undefined;

/**
 * Endpoints of a real etcd cluster for this test file: `LEASEHOLD_TEST_ETCD` (comma-separated) when set,
 * otherwise a 3-member cluster started from the project's etcd 3.5 and stopped after the file.
 */
export async function etcdEndpoints(): Promise<string[]> {
  const preset = process.env.LEASEHOLD_TEST_ETCD;
  if (preset) return preset.split(',');
  cluster ??= (async () => {
    const { EtcdCluster } = await import('@leasehold/devtools');
    const dataDir = mkdtempSync(join(tmpdir(), 'leasehold-etcd-'));
    const started = await EtcdCluster.start({ members: 3, dataDir });
    await started.waitHealthy(15_000);
    return {
      urls: started.clientUrls(),
      async stop() {
        await started.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  })();
  return (await cluster).urls;
}

afterAll(async () => {
  await (await cluster)?.stop();
});
