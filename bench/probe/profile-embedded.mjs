// Where one embedded node's time goes under the benchmark's load: one node, wrk `-t2 -c50` checkouts then
// renewals (as bench/embedded.mjs drives them), each phase with a V8 CPU profile, event-loop delay, GC
// pauses and WAL fdatasync times taken inside the node (preload.mjs), the profile summarised by
// bench/probe/summarize-profile.mjs. NODE_OPTIONS (default `--max-semi-space-size=2`) goes to the node.
//
//   npx tsc -b && flock /tmp/lh-cpu.lock node bench/probe/profile-embedded.mjs [seconds] [out dir]
//
// PROBE_CPU=0 skips the CPU profile (the sampler costs a few % of throughput); PROBE_INTERVAL_US sets its
// interval (200 µs). Writes <out>/1.* (checkouts) and <out>/2.* (renewals).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { makeVendor } from '@leasehold/devtools';
import {
  checkoutMany,
  installCleanup,
  installLicense,
  removeOnExit,
  runMain,
  startLeasehold,
  stopNode,
  syncMode,
} from '../lib/embedded-node.mjs';
import { requireWrk, runWrk } from '../lib/wrk.mjs';

const seconds = Number(process.argv[2] ?? 8);
const out = resolve(process.argv[3] ?? mkdtempSync(join(tmpdir(), 'leasehold-probe-')));
const POOL = 1000;

async function main() {
  requireWrk();
  installCleanup();
  mkdirSync(out, { recursive: true });
  const work = removeOnExit(mkdtempSync(join(tmpdir(), 'leasehold-probe-data-')));
  const vendor = await makeVendor();
  const vendorKeyPath = vendor.writePublicKey(work);
  const preload = pathToFileURL(join(import.meta.dirname, 'preload.mjs')).href;
  const node = await startLeasehold('probed node', join(work, 'data'), vendorKeyPath, syncMode(), {
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? '--max-semi-space-size=2'} --import=${preload}`,
      PROBE_DIR: out,
    },
  });
  const checkoutLicense = await installLicense(node, vendor, 'probe-checkout', ['checkout']);
  const warmLicense = await installLicense(node, vendor, 'probe-warm', ['checkout']);
  const renewLicense = await installLicense(node, vendor, 'probe-renew', ['renew']);
  const ids = await checkoutMany(node, renewLicense, POOL, 32);
  const renewIds = join(work, 'renew-ids.txt');
  writeFileSync(
    renewIds,
    `${ids.map((l) => `${l.id}/renew?client=${encodeURIComponent(l.clientId)}`).join('\n')}\n`,
  );

  const wrk = (script, args, duration) =>
    runWrk({ url: node.url, script, args, duration, connections: 50, threads: 2 });
  const phases = [
    [
      'checkouts',
      (d, lic) => wrk('checkout.lua', ['/v1/leases', lic.token, lic.features.join(','), `p${Date.now()}`], d),
    ],
    ['renewals', (d) => wrk('renew.lua', ['/v1/leases/', '-', renewLicense.token, renewIds, 2], d)],
  ];
  for (const [, run] of phases) await run(2, warmLicense);
  let n = 0;
  for (const [name, run] of phases) {
    n += 1;
    process.kill(node.pid, 'SIGUSR2');
    await sleep(300);
    const r = await run(seconds, checkoutLicense);
    process.kill(node.pid, 'SIGUSR2');
    for (let i = 0; i < 100 && !existsSync(join(out, `${n}.json`)); i++) await sleep(100);
    process.stdout.write(
      `${name}: ${Math.round(r.rate)}/s p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms non2xx ${r.non2xx} -> ${out}/${n}.*\n`,
    );
  }
  await stopNode(node);
}

runMain(main);
