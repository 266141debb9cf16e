// Costs of the security issue's hot paths (docs/security.md): sealing and opening a license file under
// the data key, and the clock high-water mark's fsync'd writes and per-signature check.
//
//   npm run build && node bench/security.mjs
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClockHighWater } from '@leasehold/server/internal';
import { newDataKey, RecordCipher } from '@leasehold/store';

const cipher = new RecordCipher(newDataKey());
const raw = randomBytes(1500).toString('base64url'); // about the size of a license file
const runs = 100_000;
let started = performance.now();
for (let i = 0; i < runs; i++) cipher.open('license.raw', 'lic-1', cipher.seal('license.raw', 'lic-1', raw));
const perRound = ((performance.now() - started) * 1000) / runs;
console.log(`seal + open of a ${raw.length}-byte license file: ${perRound.toFixed(1)} µs (${runs} runs)`);

const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-security-'));
try {
  // A 1 ms step forces one persist per admit: the cost of one fsync'd write.
  let wall = Date.now();
  const perWrite = new ClockHighWater({ now: () => wall, monotonic: () => 0 }, join(dir, 'a'), 1);
  const times = [];
  for (let i = 0; i < 200; i++) {
    wall += 2;
    const t = performance.now();
    await perWrite.admit(wall);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(
    `high-water write (write, fsync, rename, fsync dir): median ${times[100].toFixed(1)} ms, ` +
      `p99 ${times[197].toFixed(1)} ms (${perWrite.writes} writes)`,
  );
  // The default 1 s step under a tight loop of signatures.
  const clock = { now: () => Date.now(), monotonic: () => performance.now() };
  const mark = new ClockHighWater(clock, join(dir, 'b'));
  let admits = 0;
  let longest = 0;
  let slow = 0;
  await mark.admit(); // the first signature writes the first step: not part of the steady state
  started = performance.now();
  while (performance.now() - started < 2000) {
    const t = performance.now();
    await mark.admit();
    const took = performance.now() - t;
    longest = Math.max(longest, took);
    if (took > 1) slow++;
    admits++;
    // A server turns its event loop between requests; without this the background write could not run.
    if (admits % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  const perAdmit = ((performance.now() - started) * 1000) / admits;
  // The writes run in the thread pool, half a step ahead: an admit waits only when signing outruns them.
  console.log(
    `admit() with the 1 s step: ${perAdmit.toFixed(2)} µs each, ${mark.writes} writes in 2 s, ` +
      `longest admit ${longest.toFixed(2)} ms, ${slow} of ${admits} over 1 ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
