// Embedded-node benchmark: how fast one Leasehold node on SQLite checks seats out and renews leases,
// compared with a bare Fastify hello-world measured in the same run, and how much memory the node holds
// with 10,000 active leases. See bench/README.md for what each number means.
//
//   npm run build && npm run bench
//   BENCH_DURATION=10 BENCH_RUNS=5 SQLITE_SYNCHRONOUS=NORMAL npm run bench
//
// Everything under test runs in child processes (the Leasehold node via its CLI, the baseline via
// bench/bare-fastify.mjs); this process only generates load with autocannon and reads /proc.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeVendor, pollUntil, spawnNode } from '@leasehold/devtools';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BARE_FASTIFY = join(ROOT, 'bench/bare-fastify.mjs');
const require = createRequire(import.meta.url);
const serverRequire = createRequire(join(ROOT, 'packages/server/package.json'));

// Settings ---------------------------------------------------------------------------------------------

function intEnv(name, fallback, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function syncMode() {
  const raw = process.env.SQLITE_SYNCHRONOUS ?? process.env.LEASEHOLD_SQLITE_SYNCHRONOUS ?? 'FULL';
  const mode = raw.toUpperCase();
  if (mode !== 'FULL' && mode !== 'NORMAL') {
    throw new Error(`SQLITE_SYNCHRONOUS must be FULL or NORMAL, got "${raw}"`);
  }
  return mode;
}

const SETTINGS = {
  duration: intEnv('BENCH_DURATION', 5, 1),
  runs: intEnv('BENCH_RUNS', 3, 1),
  warmup: intEnv('BENCH_WARMUP', 2, 0),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  renewPool: intEnv('BENCH_RENEW_POOL', 1000, 1),
  memoryLeases: intEnv('BENCH_MEMORY_LEASES', 10_000, 1),
  memoryPools: intEnv('BENCH_MEMORY_POOLS', 10, 1),
  fillConcurrency: intEnv('BENCH_FILL_CONCURRENCY', 32, 1),
  synchronous: syncMode(),
};

const TARGETS = {
  renewRatio: 0.4,
  checkoutRatio: 0.2,
  p99Ms: 20,
  rssMb: 150,
};

const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;
const SEATS = 1_000_000;
const LEASE_TTL_S = 3600;

// Child processes and clean-up -------------------------------------------------------------------------

const children = new Set();
/** Leasehold nodes (the kit's NodeProcess): their child processes are killed with the others. */
const nodes = new Set();
let workDir;

function cleanupSync() {
  for (const child of [...children, ...[...nodes].map((n) => n.child)]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  nodes.clear();
  if (workDir && existsSync(workDir)) rmSync(workDir, { recursive: true, force: true });
}

process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    cleanupSync();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Spawns `node <args>`, keeping the last lines of its output for diagnostics. */
function startChild(name, args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const tail = [];
  const problems = [];
  const collect = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      // Pino lines at warn (40) or above: the node logs nothing else at --log-level warn.
      if (/"level":\s*(4|5|6)0\b/.test(line)) problems.push(line);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.once('exit', () => children.delete(child));
  return { name, child, tail, problems };
}

/** SIGTERM, then SIGKILL after 5 s. */
async function stopNode(node) {
  const stopped = node.kill('SIGTERM');
  const timer = sleep(5000).then(() => 'timeout');
  if ((await Promise.race([stopped, timer])) === 'timeout') await node.kill('SIGKILL');
  nodes.delete(node);
}

async function stopChild(proc) {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = sleep(5000).then(() => 'timeout');
  if ((await Promise.race([exited, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitReady(proc, url) {
  const { child } = proc;
  await pollUntil(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${proc.name} exited during start-up`);
      }
      return fetch(url).then(
        (res) => res.ok,
        () => false, // not listening yet
      );
    },
    { what: `${proc.name} to answer ${url}`, timeoutMs: 20_000, intervalMs: 100 },
  ).catch((err) => {
    throw new Error(`${err.message}\n${proc.tail.join('\n')}`);
  });
}

function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

// Leasehold node set-up --------------------------------------------------------------------------------

async function startLeasehold(name, dataDir, vendorKeyPath) {
  const port = await freePort();
  const node = await spawnNode({
    name,
    url: `http://127.0.0.1:${port}`,
    args: [
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--vendor-key',
      vendorKeyPath,
      '--log-level',
      'warn',
    ],
    env: {
      LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN,
      LEASEHOLD_SQLITE_SYNCHRONOUS: SETTINGS.synchronous,
      // The load comes through one client token per license; its rate limit (12,000/min by default) would
      // measure the limiter's budget, not the node. A limit far above the load keeps its cost measured.
      LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE:
        process.env.LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE ?? '1000000000',
      // A given key-encryption key: no "generated beside the data" warning in the output.
      LEASEHOLD_KEK: randomBytes(32).toString('base64'),
    },
  });
  nodes.add(node);
  return node;
}

/** Pino lines at warn (40) or above in a node's output: it logs nothing else at --log-level warn. */
function problemsOf(node) {
  return node
    .output()
    .split('\n')
    .filter((line) => /"level":\s*(4|5|6)0\b/.test(line));
}

async function api(node, method, path, token, body) {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function expectStatus(promise, expected, what) {
  const res = await promise;
  if (res.status !== expected) {
    throw new Error(`${what}: expected HTTP ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/**
 * Issues a license whose features each have SEATS seats (one seat pool per feature), installs it, and
 * returns a client token bound to it. Checkouts go round-robin over the features.
 */
async function installLicense(node, vendor, lid, features) {
  const now = Math.floor(Date.now() / 1000);
  const file = await vendor.issue({
    lid,
    customer: 'Bench Corp',
    product: 'bench',
    features: Object.fromEntries(features.map((f) => [f, { seats: SEATS }])),
    iat: now,
    exp: now + 7 * 86_400,
    lease: { ttl: LEASE_TTL_S, grace: 0, policy: 'strict' },
  });
  await expectStatus(
    api(node, 'POST', '/v1/licenses', ADMIN_TOKEN, { license: file }),
    201,
    `install ${lid}`,
  );
  const token = await expectStatus(
    api(node, 'POST', '/v1/tokens', ADMIN_TOKEN, { scope: 'client', license: lid, name: lid }),
    201,
    `client token for ${lid}`,
  );
  return { lid, features, token: token.token };
}

let clientCounter = 0;

function checkoutBody(license) {
  clientCounter += 1;
  return {
    feature: license.features[clientCounter % license.features.length],
    client: { id: `bench-client-${clientCounter}`, host: 'bench' },
    requestId: randomUUID(),
  };
}

/** Checks `count` seats out with at most `concurrency` requests in flight; returns the lease ids. */
async function checkoutMany(node, license, count, concurrency) {
  const ids = new Array(count);
  let next = 0;
  let failure;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const i = next++;
      try {
        const lease = await expectStatus(
          api(node, 'POST', '/v1/leases', license.token, checkoutBody(license)),
          201,
          'checkout',
        );
        // A client token renews its own client's leases only (issue 11): keep the client id with the id.
        ids[i] = { id: lease.id, client: lease.client.id };
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) throw failure;
  return ids;
}

// Load generation --------------------------------------------------------------------------------------

function cannon(opts) {
  return new Promise((resolveRun, reject) => {
    autocannon({ connections: SETTINGS.connections, ...opts }, (err, result) =>
      err ? reject(err) : resolveRun(result),
    );
  });
}

function summarize(result, successStatus) {
  const codes = result.statusCodeStats ?? {};
  const ok = codes[successStatus]?.count ?? 0;
  const others = Object.entries(codes)
    .filter(([code]) => Number(code) !== successStatus)
    .map(([code, { count }]) => `${code}x${count}`);
  return {
    rate: ok / result.duration,
    ok,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    otherCodes: others,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

const scenarios = {
  bare: (bare, duration) => cannon({ url: `${bare.url}/`, duration }).then((r) => summarize(r, 200)),

  checkout: (node, license, duration) =>
    cannon({
      url: node.url,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/v1/leases',
          headers: { authorization: `Bearer ${license.token}`, 'content-type': 'application/json' },
          // A fresh requestId per request, so every call is a new checkout and never an idempotent replay.
          setupRequest: (req) => ({ ...req, body: JSON.stringify(checkoutBody(license)) }),
        },
      ],
    }).then((r) => summarize(r, 201)),

  renew: (node, pool, duration) => {
    let i = 0;
    return cannon({
      url: node.url,
      duration,
      requests: [
        {
          method: 'POST',
          headers: { authorization: `Bearer ${pool.license.token}` },
          setupRequest: (req) => {
            const lease = pool.ids[i++ % pool.ids.length];
            return {
              ...req,
              path: `/v1/leases/${lease.id}/renew?client=${encodeURIComponent(lease.client)}`,
            };
          },
        },
      ],
    }).then((r) => summarize(r, 200));
  },
};

// Reporting --------------------------------------------------------------------------------------------

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const pct = (n) => `${(n * 100).toFixed(1)}%`;
const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function aggregate(runs, bareRuns) {
  return {
    rate: median(runs.map((r) => r.rate)),
    min: Math.min(...runs.map((r) => r.rate)),
    max: Math.max(...runs.map((r) => r.rate)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    // Each run's ratio uses the bare run measured right before it, so slow drift of the machine cancels.
    ratio: bareRuns ? median(runs.map((r, i) => r.rate / bareRuns[i].rate)) : 1,
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

function log(line = '') {
  process.stdout.write(`${line}\n`);
}

// Main -------------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(join(ROOT, 'packages/server/dist/cli.js'))) {
    throw new Error('packages/server/dist is missing: run `npx tsc -b` (or `npm run build`) first');
  }
  const versions = {
    autocannon: require('autocannon/package.json').version,
    fastify: serverRequire('fastify/package.json').version,
  };
  const started = Date.now();
  workDir = mkdtempSync(join(tmpdir(), 'leasehold-bench-'));

  const vendor = await makeVendor();
  const vendorKeyPath = vendor.writePublicKey(workDir);

  log('Leasehold embedded-node benchmark');
  log(
    `  node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
      `autocannon ${versions.autocannon}, fastify ${versions.fastify}`,
  );
  log(
    `  ${SETTINGS.connections} connections, ${SETTINGS.duration} s per run, ${SETTINGS.runs} run(s) ` +
      `(median reported), ${SETTINGS.warmup} s warm-up, loopback`,
  );
  log(`  SQLite synchronous = ${SETTINGS.synchronous}, lease TTL ${LEASE_TTL_S} s, ${int(SEATS)} seats`);
  log();

  // Throughput -----------------------------------------------------------------------------------------
  const barePort = await freePort();
  const bare = {
    ...startChild('bare fastify', [BARE_FASTIFY, String(barePort)]),
    url: `http://127.0.0.1:${barePort}`,
  };
  await waitReady(bare, `${bare.url}/`);
  const bareRss = rssKb(bare.child.pid);

  mkdirSync(join(workDir, 'throughput'));
  const node = await startLeasehold('leasehold node', join(workDir, 'throughput'), vendorKeyPath);

  // One fresh license (seat pool) per checkout run: checkout cost grows with the live seats in the pool
  // (see README), so every run starts from the same empty pool and runs stay comparable.
  const checkoutLicenses = [];
  for (let i = 0; i <= SETTINGS.runs; i++) {
    checkoutLicenses.push(await installLicense(node, vendor, `bench-checkout-${i}`, ['checkout']));
  }
  const renewLicense = await installLicense(node, vendor, 'bench-renew', ['renew']);
  const pool = {
    license: renewLicense,
    ids: await checkoutMany(node, renewLicense, SETTINGS.renewPool, SETTINGS.fillConcurrency),
  };
  log(`setup: bare Fastify + Leasehold node up, renewal pool of ${int(pool.ids.length)} leases ready`);

  if (SETTINGS.warmup > 0) {
    await scenarios.bare(bare, SETTINGS.warmup);
    await scenarios.checkout(node, checkoutLicenses[0], SETTINGS.warmup);
    await scenarios.renew(node, pool, SETTINGS.warmup);
    log(`warm-up: done (${SETTINGS.warmup} s each)`);
  }

  const results = { bare: [], checkout: [], renew: [] };
  for (let run = 1; run <= SETTINGS.runs; run++) {
    // Interleaved, so each target sees the same noise from the rest of the machine.
    const b = await scenarios.bare(bare, SETTINGS.duration);
    const c = await scenarios.checkout(node, checkoutLicenses[run], SETTINGS.duration);
    const r = await scenarios.renew(node, pool, SETTINGS.duration);
    results.bare.push(b);
    results.checkout.push(c);
    results.renew.push(r);
    const extra = (s) =>
      s.non2xx || s.errors || s.timeouts
        ? ` [non-2xx ${s.non2xx}${s.otherCodes.length ? ` (${s.otherCodes.join(' ')})` : ''}, errors ${s.errors}, timeouts ${s.timeouts}]`
        : '';
    log(
      `run ${run}/${SETTINGS.runs}: bare ${int(b.rate)}/s p99 ${ms(b.p99)} ms${extra(b)} | ` +
        `checkouts ${int(c.rate)}/s p99 ${ms(c.p99)} ms${extra(c)} | ` +
        `renewals ${int(r.rate)}/s p99 ${ms(r.p99)} ms${extra(r)}`,
    );
  }
  const throughputRss = rssKb(node.pid);
  const problems = problemsOf(node);
  await stopNode(node);
  await stopChild(bare);

  // Memory ---------------------------------------------------------------------------------------------
  // A fresh node, so "before" is an idle node with a license and "after" adds exactly the active leases.
  mkdirSync(join(workDir, 'memory'));
  const memNode = await startLeasehold('leasehold node (memory)', join(workDir, 'memory'), vendorKeyPath);
  // The leases are spread over a few features (seat pools) of one license: checkout cost grows with the
  // live seats in a pool, and filling one pool to 10,000 takes minutes with synchronous=FULL. Memory per
  // lease is the same either way; BENCH_MEMORY_POOLS=1 measures the single-pool case.
  const memFeatures = Array.from({ length: SETTINGS.memoryPools }, (_, i) => `memory-${i}`);
  const memLicense = await installLicense(memNode, vendor, 'bench-memory', memFeatures);
  await sleep(1000);
  const before = rssKb(memNode.pid);
  const fillStart = Date.now();
  await checkoutMany(memNode, memLicense, SETTINGS.memoryLeases, SETTINGS.fillConcurrency);
  const fillSeconds = (Date.now() - fillStart) / 1000;
  await sleep(1000);
  const after = rssKb(memNode.pid);
  const usage = await expectStatus(
    api(memNode, 'GET', `/v1/licenses/${memLicense.lid}`, ADMIN_TOKEN),
    200,
    'read license',
  );
  const activeLeases = usage.entitlements.reduce((sum, e) => sum + e.inUse, 0);
  problems.push(...problemsOf(memNode));
  await stopNode(memNode);

  // Report ---------------------------------------------------------------------------------------------
  const bareAgg = aggregate(results.bare);
  const coAgg = aggregate(results.checkout, results.bare);
  const rnAgg = aggregate(results.renew, results.bare);
  const row = (label, a, success) => [
    label,
    int(a.rate),
    `${int(a.min)}-${int(a.max)}`,
    ms(a.p50),
    ms(a.p99),
    pct(a.ratio),
    int(a.non2xx),
    int(a.errors),
    success,
  ];
  log();
  log(
    `RESULTS (median of ${SETTINGS.runs} run(s), ${SETTINGS.connections} connections, SQLite synchronous=${SETTINGS.synchronous})`,
  );
  log(
    table([
      ['scenario', 'ok/s', 'min-max ok/s', 'p50 ms', 'p99 ms', 'vs bare', 'non-2xx', 'errors', 'counted'],
      row('bare Fastify (GET /)', bareAgg, '200'),
      row('checkouts (POST /v1/leases)', coAgg, '201'),
      row('renewals (POST /v1/leases/:id/renew)', rnAgg, '200'),
    ]),
  );
  log();
  log('TARGETS');
  log(
    table([
      ['target', 'measured', 'result'],
      [
        `renewals >= ${pct(TARGETS.renewRatio)} of bare`,
        pct(rnAgg.ratio),
        verdict(rnAgg.ratio >= TARGETS.renewRatio),
      ],
      [
        `checkouts >= ${pct(TARGETS.checkoutRatio)} of bare`,
        pct(coAgg.ratio),
        verdict(coAgg.ratio >= TARGETS.checkoutRatio),
      ],
      [`checkouts p99 < ${TARGETS.p99Ms} ms`, `${ms(coAgg.p99)} ms`, verdict(coAgg.p99 < TARGETS.p99Ms)],
      [`renewals p99 < ${TARGETS.p99Ms} ms`, `${ms(rnAgg.p99)} ms`, verdict(rnAgg.p99 < TARGETS.p99Ms)],
      [
        `RSS with ${int(SETTINGS.memoryLeases)} active leases < ${TARGETS.rssMb} MB`,
        mb(after.rss),
        verdict(after.rss / 1024 < TARGETS.rssMb),
      ],
    ]),
  );
  log();
  log(`MEMORY (fresh node, VmRSS from /proc/<pid>/status)`);
  log(`  before: ${mb(before.rss)} (idle, one license installed)`);
  log(
    `  after:  ${mb(after.rss)} with ${int(activeLeases)} active leases (+${mb(after.rss - before.rss)}), ` +
      `peak ${mb(after.hwm)}`,
  );
  log(
    `  fill:   ${int(SETTINGS.memoryLeases)} checkouts in ${fillSeconds.toFixed(1)} s ` +
      `(${int(SETTINGS.memoryLeases / fillSeconds)}/s at ${SETTINGS.fillConcurrency} in flight, ` +
      `${SETTINGS.memoryPools} seat pool(s) growing 0 -> ${int(Math.ceil(SETTINGS.memoryLeases / SETTINGS.memoryPools))} each)`,
  );
  log(`  throughput node at the end of its runs: ${mb(throughputRss.rss)} (peak ${mb(throughputRss.hwm)})`);
  log(`  for scale: bare Fastify idle ${mb(bareRss.rss)}`);
  if (problems.length > 0) {
    log();
    log(`NOTE: the nodes logged ${problems.length} warning/error line(s); first: ${problems[0]}`);
  }
  log();
  log(`total time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    cleanupSync();
    process.exit(1);
  },
);
