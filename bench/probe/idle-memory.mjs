// Whether an idle node gives memory back, per young-generation size: one node per `--max-semi-space-size`
// given, one license and client token installed (as bench/embedded.mjs's idle figure), then its VmRSS at
// 1, 15, 30, 45 and 60 s and the GCs V8 ran meanwhile (`--trace-gc`).
//
//   npx tsc -b && flock /tmp/lh-cpu.lock node bench/probe/idle-memory.mjs 2 4
//
// Measurement only. The node gets the flags on its command line (NODE_OPTIONS is emptied for it).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeVendor, pollUntil } from '@leasehold/devtools';
import {
  ADMIN_TOKEN,
  freePort,
  installCleanup,
  installLicense,
  removeOnExit,
  runMain,
} from '../lib/embedded-node.mjs';

const BIN = join(import.meta.dirname, '../../packages/server/bin/leasehold.js');
const SAMPLES_S = [1, 15, 30, 45, 60];

const rssMb = (pid) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

async function idleNode(semi) {
  const work = removeOnExit(mkdtempSync(join(tmpdir(), 'leasehold-idle-memory-')));
  const vendor = await makeVendor();
  const port = await freePort();
  const args = [`--max-semi-space-size=${semi}`, '--trace-gc', BIN, 'serve', '--port', String(port)];
  args.push(
    '--data-dir',
    join(work, 'data'),
    '--vendor-key',
    vendor.writePublicKey(work),
    '--log-level',
    'warn',
  );
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN,
      LEASEHOLD_KEK: randomBytes(32).toString('base64'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const node = { url: `http://127.0.0.1:${port}` };
    await pollUntil(async () => (await fetch(`${node.url}/readyz`).catch(() => undefined))?.ok === true, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the node to be ready',
    });
    await installLicense(node, vendor, 'idle', ['f']);
    const idleFrom = out.length;
    const started = Date.now();
    const samples = [];
    for (const at of SAMPLES_S) {
      await sleep(Math.max(0, started + at * 1000 - Date.now()));
      samples.push(`${at} s ${rssMb(child.pid).toFixed(1)}`);
    }
    const gcs = out
      .slice(idleFrom)
      .split('\n')
      .filter((line) => /Scavenge|Mark-Compact|Mark-sweep/.test(line));
    process.stdout.write(
      `semi-spaces ${semi} MB: RSS (MB) ${samples.join(', ')}; GCs while idle: ${gcs.length}\n`,
    );
    for (const line of gcs) process.stdout.write(`    ${line.trim().slice(0, 160)}\n`);
  } finally {
    child.kill('SIGKILL');
  }
}

async function main() {
  installCleanup();
  const sizes = process.argv.slice(2);
  for (const semi of sizes.length > 0 ? sizes : ['2', '4']) await idleNode(semi);
}

runMain(main);
