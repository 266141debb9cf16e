// Measures a 3-member etcd cluster on this machine: time to start (spawn to healthy with a leader), and
// after a leader SIGKILL, time until a majority names a new leader and until the first write succeeds
// (300 ms per-write deadline, as the store adapter uses). Run after `npx tsc -b`:
//   node packages/devtools/bench/etcd-failover.mjs [runs=10] [heartbeatMs=50] [electionMs=500]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, gatewayPut, locateEtcd } from '@leasehold/devtools';

const runs = Number(process.argv[2] ?? 10);
const heartbeatMs = Number(process.argv[3] ?? 50);
const electionMs = Number(process.argv[4] ?? 500);
const samples = { start: [], leader: [], write: [], stop: [] };

const { version, source } = await locateEtcd();
for (let i = 0; i < runs; i++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'leasehold-bench-'));
  let t = performance.now();
  const cluster = await EtcdCluster.start({ members: 3, dataDir, heartbeatMs, electionMs });
  samples.start.push(performance.now() - t);
  try {
    const old = await cluster.leader();
    await gatewayPut(old.clientUrl, 'warm', 'up');
    const survivor = cluster.members.find((m) => m !== old);
    t = performance.now();
    await cluster.kill(old);
    const next = await cluster.leader(10_000);
    samples.leader.push(performance.now() - t);
    for (;;) {
      try {
        await gatewayPut(survivor.clientUrl, 'after', String(i), { timeoutMs: 300 });
        break;
      } catch {
        if (performance.now() - t > 10_000) throw new Error('no write accepted within 10 s');
      }
    }
    samples.write.push(performance.now() - t);
    if (next === old) throw new Error('leader did not change');
  } finally {
    t = performance.now();
    await cluster.stop();
    samples.stop.push(performance.now() - t);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const fmt = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(0);
  return `min ${s[0].toFixed(0)}  median ${q(0.5)}  max ${s[s.length - 1].toFixed(0)} ms`;
};
console.log(
  `etcd ${version} (${source}), 3 members, heartbeat ${heartbeatMs} ms, election ${electionMs} ms, ${runs} runs`,
);
console.log(`start to healthy with leader:      ${fmt(samples.start)}`);
console.log(`leader SIGKILL to new leader:      ${fmt(samples.leader)}`);
console.log(`leader SIGKILL to first write:     ${fmt(samples.write)}`);
console.log(`stop (SIGTERM, followers first):   ${fmt(samples.stop)}`);
