// The soak (issue 14, item 6): the fault run's clients, nemesis and checker for 30 minutes on 3 etcd
// members + 3 nodes with group commit on, with partitions and clock steps besides the kills and pauses.
//
//   npm run build && flock /tmp/lh-cpu.lock npm run bench:soak [-- --minutes 30 --seed 42]
//
// Needs root on Linux with util-linux (unshare, setpriv), iproute2, nftables and libfaketime (Debian
// `faketime`): the scenario runs in a private network and mount namespace of its own
// (packages/server/test/ha/soak/main.ts, compiled by tsc -b), as the partition test's does. This script
// starts it, streams its progress, and writes bench/results/soak.json (and the history, with every op,
// fault and the store's records, to bench/results/soak/history.json), then re-renders bench/report.md.
// Exit code 1 when a violation, a nemesis error or an unhealed cluster was found, or fewer than
// MIN_FAULTS faults were injected in a full-length run.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DIR, ROOT, writeResults } from './lib/results.mjs';
import { renderReport } from './report.mjs';

const { values: argv } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    // e.g. `--faults clock-step`: only these kinds (default all); a run of some kinds is not the target run.
    faults: { type: 'string' },
    // The nodes' maxClockSkewMs; default the clock step (2000), which the checker then judges exactly.
    'max-clock-skew-ms': { type: 'string' },
  },
});
const MINUTES = Number(argv.minutes);
const FULL_MINUTES = 30;
const MIN_FAULTS = 1000;
const HA = join(ROOT, 'packages/server/test/ha');
const MAIN = join(HA, 'soak/dist/soak/main.js');
const HISTORY_DIR = join(RESULTS_DIR, 'soak');
const log = (line = '') => process.stdout.write(`${line}\n`);

function preflight() {
  const problems = [];
  if (process.platform !== 'linux') problems.push(`this is ${process.platform}, not Linux`);
  if (process.getuid?.() !== 0) problems.push('not root (unshare -n, ip rule, nft and setpriv need it)');
  for (const [command, pkg] of [
    ['unshare', 'util-linux'],
    ['setpriv', 'util-linux'],
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ]) {
    const found = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore', timeout: 5000 });
    if (found.status !== 0) problems.push(`\`${command}\` is not installed (Debian package ${pkg})`);
  }
  const faketime = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].some((a) =>
    existsSync(`/usr/lib/${a}/faketime/libfaketime.so.1`),
  );
  if (!faketime) problems.push('libfaketime is not installed (Debian package faketime)');
  if (!(MINUTES > 0 && MINUTES <= 240)) problems.push(`--minutes ${argv.minutes}: give 0 < minutes <= 240`);
  if (!existsSync(MAIN)) problems.push(`${MAIN} is missing: run \`npm run build\``);
  else {
    // The scenario runs from tsc's output: refuse a build older than its sources.
    const built = statSync(MAIN).mtimeMs;
    const sources = [HA, join(HA, 'checker'), join(HA, 'soak'), join(HA, 'partition')].flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => join(dir, f)),
    );
    const stale = sources.filter((f) => statSync(f).mtimeMs > built);
    if (stale.length > 0) problems.push(`the soak is older than ${stale.join(', ')}: run \`npm run build\``);
  }
  if (problems.length > 0) {
    process.stderr.write(`bench:soak cannot run: ${problems.join('; ')}\n`);
    process.exit(2);
  }
}

/** Runs the scenario in its namespace; resolves with its SOAK_RESULT, or throws. Bounded by a watchdog. */
function runScenario(dir) {
  const args = ['-n', '-m', process.execPath, MAIN, '--dir', dir, '--minutes', String(MINUTES)];
  if (argv.seed !== undefined) args.push('--seed', argv.seed);
  if (argv.faults !== undefined) args.push('--faults', argv.faults);
  if (argv['max-clock-skew-ms'] !== undefined) args.push('--max-clock-skew-ms', argv['max-clock-skew-ms']);
  const child = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d.toString();
  });
  // The scenario has its own watchdog (its minutes + 5 min); this one is the last resort.
  const watchdog = setTimeout(
    () => {
      process.stderr.write('bench:soak: the scenario overran; killing its process group\n');
      process.kill(-child.pid, 'SIGKILL');
    },
    (MINUTES + 8) * 60_000,
  );
  const interrupt = () => process.kill(-child.pid, 'SIGKILL');
  process.once('SIGINT', interrupt);
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      process.off('SIGINT', interrupt);
      const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
      if (!line) reject(new Error(`the scenario ended (${signal ?? `code ${code}`}) without a result`));
      else resolve(JSON.parse(line.slice('SOAK_RESULT '.length)));
    });
  });
}

preflight();
const dir = mkdtempSync(join(tmpdir(), 'leasehold-soak-'));
let r;
try {
  r = await runScenario(dir);
  // In a folder of its own: report.mjs reads every bench/results/*.json as a result file.
  mkdirSync(HISTORY_DIR, { recursive: true });
  copyFileSync(r.historyFile, join(HISTORY_DIR, 'history.json'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const v = r.violations;
const healthy =
  r.nemesisErrors.length === 0 &&
  r.after.allReady &&
  r.after.membershipOk &&
  r.after.liveLeases === 0 &&
  r.after.storeRead;
const clean = v.total === 0;
const enoughFaults = r.faults >= MIN_FAULTS;
const fullLength = MINUTES >= FULL_MINUTES;
const allKinds = argv.faults === undefined;
const measured =
  `${MINUTES} min, ${r.faults} faults, ${r.okOps.toLocaleString('en-US')} client ops ok; ` +
  `oversubscribed ${v.oversubscribed}, lost ${v.lostLeases}, duplicate grants ${v.duplicateGrants}`;
const file = writeResults('soak', {
  title: `Soak: ${MINUTES} min of faults with group commit on`,
  command:
    `npm run bench:soak -- --minutes ${MINUTES} --seed ${r.seed}` +
    (argv.faults === undefined ? '' : ` --faults ${argv.faults}`) +
    (argv['max-clock-skew-ms'] === undefined ? '' : ` --max-clock-skew-ms ${argv['max-clock-skew-ms']}`),
  settings: {
    minutes: MINUTES,
    seed: r.seed,
    clients: r.clients,
    pools: r.pools,
    batchWindowMs: r.batchWindowMs,
    clockToleranceMs: r.clockToleranceMs,
    expiryToleranceMs: r.expiryToleranceMs,
    maxClockSkewMs: r.maxClockSkewMs,
    faultKinds: r.faultKinds.join(','),
  },
  figures: [
    ...Object.entries(r.faultsByKind)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => ({ key: `faults.${kind}`, label: `faults injected: ${kind}`, unit: '', value: n })),
    ...r.outageByKind.map((row) => ({
      key: `outage.${row.kind}`,
      label: `longest client-visible outage: ${row.kind}`,
      unit: 'ms',
      better: 'lower',
      value: row.longestMs,
      note: `${row.windows} outage windows`,
    })),
    { key: 'okOps', label: 'client ops answered ok', unit: '', value: r.okOps },
  ],
  targets: [
    {
      id: 'soak',
      label: 'Soak: 30 min, >= 1,000 faults, 0 oversubscribed, 0 lost, 0 duplicate grants',
      measured,
      // A shorter run cannot pass the 30-minute target, but a violation in it fails it.
      pass: clean && healthy ? (fullLength && enoughFaults && allKinds ? true : null) : false,
    },
  ],
  notes: [
    `faults by kind: ${Object.entries(r.faultsByKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `violations (maxClockSkewMs ${r.maxClockSkewMs}; seats freed early tolerated ${r.clockToleranceMs} ms, leases found expired early ${r.expiryToleranceMs} ms): ${JSON.stringify(v)}; with no tolerance at all: ${JSON.stringify(r.strictClockViolations)}`,
    `nemesis errors: ${r.nemesisErrors.length}; after the run: ${r.after.nodeStates.join(', ')}, ` +
      `${r.after.liveLeases} live leases ${r.after.drainedAfterMs} ms after the clients stopped, membership ${r.after.membershipOk ? 'healed' : 'NOT healed'}`,
    `leases: ${JSON.stringify(r.leases)}`,
    'outages attribute to the latest fault started before they ended; the two nemesis lanes overlap, so a window may be caused by the other lane',
  ],
});
log(`wrote ${file} and ${join(HISTORY_DIR, 'history.json')}; report: ${renderReport()}`);
log(`soak: ${measured}`);
if (!clean || !healthy || (fullLength && allKinds && !enoughFaults)) process.exit(1);
