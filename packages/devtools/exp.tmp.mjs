import { EtcdCluster } from '@leasehold/devtools';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const xs = [];
for (let i = 0; i < 30; i++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'lh-exp-'));
  const t = performance.now();
  const c = await EtcdCluster.start({ members: 3, dataDir });
  xs.push(performance.now() - t);
  c.members.forEach(m => process.kill(m.pid, 'SIGKILL'));
  await c.stop();
  await rm(dataDir, { recursive: true, force: true });
}
xs.sort((a, b) => a - b); console.log(xs.map((x) => x.toFixed(0)).join(' '));
