// What bench/embedded.mjs and bench/scale.mjs share: child processes that die with the benchmark, an
// embedded Leasehold node started through its CLI, its API set-up calls, and /proc memory reads.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollUntil, spawnNode } from '@leasehold/devtools';
import { ROOT } from './results.mjs';

export function intEnv(name, fallback, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

export function syncMode() {
  const raw = process.env.SQLITE_SYNCHRONOUS ?? process.env.LEASEHOLD_SQLITE_SYNCHRONOUS ?? 'FULL';
  const mode = raw.toUpperCase();
  if (mode !== 'FULL' && mode !== 'NORMAL') {
    throw new Error(`SQLITE_SYNCHRONOUS must be FULL or NORMAL, got "${raw}"`);
  }
  return mode;
}

export const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;

// Child processes and clean-up -------------------------------------------------------------------------

const children = new Set();
/** Leasehold nodes (the kit's NodeProcess): their child processes are killed with the others. */
const nodes = new Set();
const workDirs = new Set();

function cleanupSync() {
  for (const child of [...children, ...[...nodes].map((n) => n.child)]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  nodes.clear();
  for (const dir of workDirs) if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

/** Kills the children and deletes the work directories on exit and on SIGINT/SIGTERM/SIGHUP. */
export function installCleanup() {
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      cleanupSync();
      process.exit(130);
    });
  }
}

export function removeOnExit(dir) {
  workDirs.add(dir);
  return dir;
}

/** Runs main(); exit 0 once measured, 1 (with the stack) when the benchmark itself breaks. */
export function runMain(main) {
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
}

export function freePort() {
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
export function startChild(name, args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const tail = [];
  const collect = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.once('exit', () => children.delete(child));
  return { name, child, tail };
}

/** A server script of bench/ (bare-fastify.mjs, essential-work.mjs) as a child, ready to serve `readyPath`. */
export async function startServerChild(name, script, extraArgs, readyPath, method = 'GET') {
  const port = await freePort();
  const proc = {
    ...startChild(name, [join(ROOT, script), String(port), ...extraArgs]),
    url: `http://127.0.0.1:${port}`,
  };
  await pollUntil(
    async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`${name} exited during start-up\n${proc.tail.join('\n')}`);
      }
      return fetch(`${proc.url}${readyPath}`, { method }).then(
        (res) => res.status < 500,
        () => false, // not listening yet
      );
    },
    { what: `${name} to answer ${readyPath}`, timeoutMs: 30_000, intervalMs: 100 },
  );
  return proc;
}

export async function stopChild(proc) {
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

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopNode(node) {
  const stopped = node.kill('SIGTERM');
  const timer = sleep(5000).then(() => 'timeout');
  if ((await Promise.race([stopped, timer])) === 'timeout') await node.kill('SIGKILL');
  nodes.delete(node);
}

export function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

// Leasehold node ---------------------------------------------------------------------------------------

/** `extra.args` / `extra.env` go to the node as well (a replica's or an edge's flags, feed retention). */
export async function startLeasehold(name, dataDir, vendorKeyPath, synchronous, extra = {}) {
  if (!existsSync(join(ROOT, 'packages/server/dist/cli.js'))) {
    throw new Error('packages/server/dist is missing: run `npx tsc -b` (or `npm run build`) first');
  }
  const port = await freePort();
  const node = await spawnNode({
    name,
    url: `http://127.0.0.1:${port}`,
    // Ready, not just alive: the first install needs the cluster signing key loaded (a bench once got
    // 503 "has not loaded the cluster signing key from its store yet" from a node that answered /healthz).
    readiness: 'readyz',
    args: [
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--vendor-key',
      vendorKeyPath,
      '--log-level',
      'warn',
      ...(extra.args ?? []),
    ],
    env: {
      LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN,
      LEASEHOLD_SQLITE_SYNCHRONOUS: synchronous,
      // The load comes through one client token per license; its rate limit (12,000/min by default) would
      // measure the limiter's budget, not the node. A limit far above the load keeps its cost measured.
      LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE:
        process.env.LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE ?? '1000000000',
      // A given key-encryption key: no "generated beside the data" warning in the output.
      LEASEHOLD_KEK: randomBytes(32).toString('base64'),
      // V8 flags for the Leasehold node alone (e.g. `--max-semi-space-size=4`): NODE_OPTIONS would reach
      // the bare-Fastify and essential-work children too and move the baseline the ratios are taken to.
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...(extra.env ?? {}),
    },
  });
  nodes.add(node);
  return node;
}

/** Pino lines at warn (40) or above in a node's output: it logs nothing else at --log-level warn. */
export function problemsOf(node) {
  return node
    .output()
    .split('\n')
    .filter((line) => /"level":\s*(4|5|6)0\b/.test(line));
}

export async function api(node, method, path, token, body) {
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

export async function expectStatus(promise, expected, what) {
  const res = await promise;
  if (res.status !== expected) {
    throw new Error(`${what}: expected HTTP ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** A vendor-signed license file for `lid`: each feature its own pool of `seats`, a week long, strict. */
export function issueBenchLicense(vendor, lid, features, { seats, ttl }) {
  const now = Math.floor(Date.now() / 1000);
  return vendor.issue({
    lid,
    customer: 'Bench Corp',
    product: 'bench',
    features: Object.fromEntries(features.map((f) => [f, { seats }])),
    iat: now,
    exp: now + 7 * 86_400,
    lease: { ttl, grace: 0, policy: 'strict' },
  });
}

/**
 * Issues a license whose features each have `seats` seats (one seat pool per feature), installs it, and
 * returns a client token bound to it.
 */
export async function installLicense(node, vendor, lid, features, { seats = 1_000_000, ttl = 3600 } = {}) {
  const file = await issueBenchLicense(vendor, lid, features, { seats, ttl });
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

/** Active leases of a license, from the node's own count (`inUse` per entitlement). */
export async function activeLeases(node, lid) {
  const usage = await expectStatus(api(node, 'GET', `/v1/licenses/${lid}`, ADMIN_TOKEN), 200, 'read license');
  return usage.entitlements.reduce((sum, e) => sum + e.inUse, 0);
}

let clientCounter = 0;

/**
 * Checks `count` seats out (features round-robin) with at most `concurrency` in flight: each lease's id
 * and client id (a client token renews only its own client's leases, so renewals name it).
 */
export async function checkoutMany(node, license, count, concurrency) {
  const ids = new Array(count);
  let next = 0;
  let failure;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const i = next++;
      clientCounter += 1;
      const body = {
        feature: license.features[clientCounter % license.features.length],
        client: { id: `bench-client-${clientCounter}`, host: 'bench' },
        requestId: randomUUID(),
      };
      try {
        const lease = await expectStatus(
          api(node, 'POST', '/v1/leases', license.token, body),
          201,
          'checkout',
        );
        ids[i] = { id: lease.id, clientId: body.client.id };
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) throw failure;
  return ids;
}
