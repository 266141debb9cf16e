// How long the WAL's fdatasync takes on this disk with nothing else running: ~60 KB appended to one file
// every `gap` ms (a group commit's frames) and an fdatasync on the thread pool after each, as wal-sync.ts
// does, timed from the call to its callback. `serial` runs one sync at a time (a commit during a sync
// waits for it, then starts the next, as wal-sync.ts); `overlap` lets two run at once. Measurement only.
//
//   flock /tmp/lh-cpu.lock node bench/probe/fdatasync.mjs serial|overlap [gap ms = 3] [seconds = 4]
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const mode = process.argv[2] === 'overlap' ? 'overlap' : 'serial';
const gap = Number(process.argv[3] ?? 3);
const seconds = Number(process.argv[4] ?? 4);
const dir = mkdtempSync(join(tmpdir(), 'leasehold-fdatasync-'));
const fd = openSync(join(dir, 'wal'), 'w');
const frames = Buffer.alloc(60 * 1024, 7);
const WRAP = 4 * 1024 * 1024; // rewrites the same 4 MB, like a WAL that restarts
const running = [];
let queued;
const syncNow = () => {
  const p = new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))).finally(
    () => running.splice(running.indexOf(p), 1),
  );
  running.push(p);
  return p;
};
const committed = () => {
  if (running.length < (mode === 'overlap' ? 2 : 1)) return syncNow();
  queued ??= running[0].then(() => {
    queued = undefined;
    return syncNow();
  });
  return queued;
};
const waits = [];
let offset = 0;
let commits = 0;
for (const end = Date.now() + seconds * 1000; Date.now() < end; commits++) {
  writeSync(fd, frames, 0, frames.length, offset);
  offset = (offset + frames.length) % WRAP;
  const began = performance.now();
  committed().then(() => waits.push(performance.now() - began));
  await sleep(gap);
}
await sleep(200);
closeSync(fd);
rmSync(dir, { recursive: true, force: true });
waits.sort((a, b) => a - b);
const at = (q) => (waits[Math.min(waits.length - 1, Math.floor(waits.length * q))] ?? 0).toFixed(1);
process.stdout.write(
  `${mode}: ${commits} commits every ${gap} ms, wait for the sync p50 ${at(0.5)} / p90 ${at(0.9)} / p99 ${at(0.99)} / max ${(waits.at(-1) ?? 0).toFixed(1)} ms\n`,
);
