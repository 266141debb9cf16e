#!/usr/bin/env node
// Network-partition scenarios for the HA test (partition.test.ts). Runs INSIDE a private network and mount
// namespace (`unshare -n -m node partition-scenario.mjs --scenario leader|node --dir <empty dir>`) and
// refuses to run anywhere else: it rewrites the routing rules and nftables of its network namespace and
// bind-mounts over /etc/passwd in its mount namespace (see overlayPasswd).
//
// Layout: etcd members on 127.0.0.11-13, Leasehold nodes on 127.0.0.21-23 (port 7300), every node talks to
// all three members; this script's own HTTP clients and probes use 127.0.0.1, which no rule ever drops.
//
// Why each process runs as its own uid: the kernel picks the source address of an unbound socket from the
// route, and every 127.0.0.0/8 destination gets 127.0.0.1 (measured: a client on "127.0.0.21" connecting to
// 127.0.0.12 shows up as 127.0.0.1). Neither etcd's peer dialer nor grpc-js binds a local address, so
// rules by address would match nothing. A uid-range routing rule per process ("ip rule add uidrange U-U
// lookup U", table U: "local 127.0.0.0/8 dev lo src <its address>") makes each process's connections
// leave from its own address, in both directions, and then `ip saddr A ip daddr B drop` cuts A from B.
//
// Prints progress to stderr and one line `PARTITION_RESULT <json>` to stdout. Every child (etcd members,
// nodes) is started with a parent-death signal, so none outlives this process however it ends.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { EtcdCluster, locateEtcd, readStatus } from '@leasehold/devtools';
import { generateKeyPairPems, importPrivateKey, issueLicense } from '@leasehold/domain';
import { generateApiToken, LEASEHOLD_BIN } from '@leasehold/server/internal';

const ETCD_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const NODE_HOSTS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const NODE_PORT = 7300;
const NFT_TABLE = 'leasehold_partition';
const SEATS = 4;
const LEASE_TTL_S = 10;
/** Clients per node; each is pinned to its node (no failover), so what a node answers is what we see. */
const CLIENTS_PER_NODE = 3;
const RENEW_EVERY_MS = 1000;
const HOLD_RENEWALS = 4;
const FETCH_TIMEOUT_MS = 5000;
/** What a partition may cost a node that still reaches a quorum: calls sent later than this after the cut
 * should all succeed (an etcd election with 50/500 ms timing takes ~0.5-1 s; DESIGN.md "etcd facts"). */
const SETTLE_MS = 3000;
/** The whole scenario, start to result, must end within this; then it kills itself (and, by pdeathsig, all). */
const WATCHDOG_MS = 170_000;

const { values: argv } = parseArgs({
  options: {
    scenario: { type: 'string' },
    dir: { type: 'string' },
    'warmup-ms': { type: 'string', default: '4000' },
    'cut-ms': { type: 'string', default: '10000' },
    'after-ms': { type: 'string', default: '5000' },
  },
});
const SCENARIO = argv.scenario;
if (SCENARIO !== 'leader' && SCENARIO !== 'node') {
  process.stderr.write(
    'usage: unshare -n -m node partition-scenario.mjs --scenario leader|node --dir <dir>\n',
  );
  process.exit(2);
}
if (!argv.dir) {
  process.stderr.write('--dir <empty directory> is required\n');
  process.exit(2);
}
const WORK_DIR = resolve(argv.dir);
const WARMUP_MS = Number(argv['warmup-ms']);
const CUT_MS = Number(argv['cut-ms']);
const AFTER_MS = Number(argv['after-ms']);

const t0 = performance.now();
/** Milliseconds since the scenario started, monotonic: every interval below is measured on this clock. */
const now = () => performance.now() - t0;
const round = (ms) => Math.round(ms);
const log = (message) =>
  process.stderr.write(`[partition ${SCENARIO} +${(now() / 1000).toFixed(1)}s] ${message}\n`);

const watchdog = setTimeout(() => {
  log(`WATCHDOG: scenario still running after ${WATCHDOG_MS} ms; exiting (children die by pdeathsig)`);
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();

// --- the namespace ---------------------------------------------------------------------------------------

function run(cmd, args, input) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Refuses to touch a network namespace that is not a fresh private one (only `lo`, not init's). */
function assertPrivateNamespace() {
  const links = run('ip', ['-o', 'link', 'show'])
    .trim()
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0]);
  if (links.some((name) => name !== 'lo')) {
    throw new Error(
      `refusing to run: this network namespace has interfaces other than lo (${links.join(', ')}); ` +
        'start me with "unshare -n -m node partition-scenario.mjs …"',
    );
  }
  if (!ownNamespace('net')) {
    throw new Error('refusing to run in the network namespace of my parent; start me with "unshare -n -m"');
  }
}

/**
 * Whether this process's `kind` namespace differs from its parent's (`unshare` execs us, so the parent is
 * whoever asked for the namespace). Unknown counts as not.
 */
function ownNamespace(kind) {
  try {
    return readlinkSync(`/proc/self/ns/${kind}`) !== readlinkSync(`/proc/${process.ppid}/ns/${kind}`);
  } catch {
    return false;
  }
}

const uidOf = (host) => 47_000 + Number(host.split('.')[3]);

/**
 * Gives the test uids a passwd entry, in this process's private mount namespace only: `leasehold` calls
 * os.userInfo() while building its CLI (server-commands.ts, a --client-id default), which throws for a uid
 * without one, so `serve` would not start. Refuses unless the mount namespace is private.
 */
function overlayPasswd() {
  if (!ownNamespace('mnt'))
    throw new Error('refusing to run outside a private mount namespace; start me with "unshare -n -m"');
  run('mount', ['--make-rprivate', '/']); // nothing mounted here may propagate anywhere else
  const entries = [...ETCD_HOSTS, ...NODE_HOSTS]
    .map((h) => `lh-partition-${h.split('.')[3]}:x:${uidOf(h)}:${uidOf(h)}::/nonexistent:/usr/sbin/nologin\n`)
    .join('');
  const path = join(WORK_DIR, 'passwd');
  writeFileSync(path, readFileSync('/etc/passwd', 'utf8') + entries, { mode: 0o644 });
  run('mount', ['--bind', path, '/etc/passwd']);
}

function setUpNetwork() {
  run('ip', ['link', 'set', 'lo', 'up']);
  for (const host of [...ETCD_HOSTS, ...NODE_HOSTS]) {
    const uid = String(uidOf(host));
    run('ip', ['addr', 'add', `${host}/8`, 'dev', 'lo']);
    run('ip', ['route', 'add', 'local', '127.0.0.0/8', 'dev', 'lo', 'src', host, 'table', uid]);
    run('ip', ['rule', 'add', 'pref', '100', 'uidrange', `${uid}-${uid}`, 'lookup', uid]);
  }
  // The local table must come after the uid rules, or its 127.0.0.0/8 route (src 127.0.0.1) wins.
  run('ip', ['rule', 'add', 'pref', '200', 'lookup', 'local']);
  run('ip', ['rule', 'del', 'pref', '0']);
  try {
    run('nft', ['add', 'table', 'inet', NFT_TABLE]);
    run('nft', [
      'add',
      'chain',
      'inet',
      NFT_TABLE,
      'out',
      '{ type filter hook output priority 0; policy accept; }',
    ]);
  } catch (err) {
    throw new Error(
      `nftables does not work in this namespace (kernel nf_tables?): ${err.stderr ?? err.message}`,
    );
  }
}

/** Drops every packet between each pair, both directions, in one atomic nft transaction. */
function cut(pairs) {
  const rules = pairs.flatMap(([a, b]) => [
    `add rule inet ${NFT_TABLE} out ip saddr ${a} ip daddr ${b} counter drop`,
    `add rule inet ${NFT_TABLE} out ip saddr ${b} ip daddr ${a} counter drop`,
  ]);
  run('nft', ['-f', '-'], `${rules.join('\n')}\n`);
}

/** Packets the partition rules dropped so far (evidence that the cut was real). */
function droppedPackets() {
  const text = run('nft', ['list', 'chain', 'inet', NFT_TABLE, 'out']);
  let total = 0;
  for (const match of text.matchAll(/counter packets (\d+)/g)) total += Number(match[1]);
  return total;
}

function heal() {
  run('nft', ['flush', 'chain', 'inet', NFT_TABLE, 'out']);
}

// --- processes ---------------------------------------------------------------------------------------------

/** `bin` for EtcdCluster: runs each member as the uid of its address, with a parent-death signal again
 * (changing uid clears the one the harness set). */
function writeEtcdWrapper(realEtcd) {
  const cases = ETCD_HOSTS.map((host, i) => `  *" --name=etcd${i + 1} "*) uid=${uidOf(host)} ;;`).join('\n');
  const path = join(WORK_DIR, 'etcd-as-member.sh');
  writeFileSync(
    path,
    `#!/bin/sh
# Written by partition-scenario.mjs: one uid per etcd member, so policy routing gives it its own address.
case " $* " in
${cases}
  *) echo "etcd-as-member: no known --name in: $*" >&2; exit 2 ;;
esac
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --pdeathsig KILL -- '${realEtcd}' "$@"
`,
    { mode: 0o755 },
  );
  return path;
}

/**
 * A `leasehold serve` child under its own uid (the harness's NodeProcess cannot change the uid or set a
 * parent-death signal, which this namespace needs).
 */
class NamespacedNode {
  #child;
  #output = '';
  exited = false;

  constructor(name, host, args, env) {
    this.name = name;
    this.host = host;
    this.url = `http://${host}:${NODE_PORT}`;
    this.uid = uidOf(host);
    this.args = args;
    this.env = env;
  }

  get pid() {
    return this.#child?.pid;
  }

  output() {
    return this.#output;
  }

  async start(timeoutMs = 20_000) {
    const uid = String(this.uid);
    const child = spawn(
      'setpriv',
      [
        `--reuid=${uid}`,
        `--regid=${uid}`,
        '--clear-groups',
        '--pdeathsig',
        'KILL',
        '--',
        process.execPath,
        LEASEHOLD_BIN,
        'serve',
        ...this.args,
      ],
      { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const append = (d) => {
      this.#output = (this.#output + d.toString()).slice(-65_536);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('exit', () => {
      this.exited = true;
    });
    this.#child = child;
    const deadline = now() + timeoutMs;
    for (let i = 0; i < 1000 && now() < deadline && !this.exited; i++) {
      const ok = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(500) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(50);
    }
    await this.stop(0);
    throw new Error(`node ${this.name} did not start within ${timeoutMs} ms:\n${this.#output.slice(-4000)}`);
  }

  async stop(graceMs = 5000) {
    const child = this.#child;
    if (!child || this.exited) return;
    const exited = once(child, 'exit');
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = new AbortController();
    const done = await Promise.race([
      exited.then(() => true),
      sleep(graceMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

// --- HTTP ----------------------------------------------------------------------------------------------------

let adminToken = '';

/** One HTTP call with a deadline; never throws. Times are on the scenario's monotonic clock. */
async function call(method, url, body, timeoutMs = FETCH_TIMEOUT_MS) {
  const sentAt = now();
  const wallSentAt = Date.now();
  try {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const doneAt = now();
    return {
      sentAt,
      doneAt,
      wallSentAt,
      wallDoneAt: Date.now(),
      ms: doneAt - sentAt,
      status: res.status,
      body: json,
      code: json?.code,
      retryable: json?.retryable,
    };
  } catch (err) {
    const doneAt = now();
    return {
      sentAt,
      doneAt,
      wallSentAt,
      wallDoneAt: Date.now(),
      ms: doneAt - sentAt,
      status: 0,
      body: undefined,
      code:
        err?.name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : `NETWORK_ERROR ${err?.cause?.code ?? err?.message}`,
      retryable: true,
    };
  }
}

const ok = (r) => r.status >= 200 && r.status < 300;
/**
 * The node decided, with its store: a grant or renewal, or a refusal the store's state justifies (every seat
 * taken; a renewal that arrived after its lease ran out, e.g. one sent during a partition). Anything else
 * (503, timeouts) is a failure to answer.
 */
const ANSWERS = new Set(['SEATS_EXHAUSTED', 'LEASE_EXPIRED']);
const answered = (o) => ok(o) || ANSWERS.has(o.code);

// --- workload ------------------------------------------------------------------------------------------------

/** Every checkout, renewal and release any client made, with the node it went through. */
const ops = [];
/** Seat intervals as clients saw them: from the grant's answer to the token's expiry or the release sent. */
const holdings = [];
/** `client|requestId` -> lease ids that 2xx answers returned for it. */
const leasesByRequest = new Map();
/** Client id -> name of the node it goes through, for the clients that hold a seat right now. */
const holdersNow = new Map();

async function runClient(clientId, node, stopAt) {
  let lease; // { id, holding }
  let requestId = randomUUID();
  let renewals = 0;
  let lastRenewAt = 0;
  const record = (kind, r, extra = {}) =>
    ops.push({ kind, node: node.name, client: clientId, ...r, body: undefined, ...extra });
  const drop = () => {
    lease = undefined;
    requestId = randomUUID();
    holdersNow.delete(clientId);
  };
  for (let step = 0; step < 5000 && now() < stopAt; step++) {
    if (lease && Date.now() >= lease.holding.end) drop(); // its token ran out: the seat is no longer ours
    if (!lease) {
      const r = await call('POST', `${node.url}/v1/leases`, {
        feature: 'solver',
        client: { id: clientId },
        requestId,
      });
      record('checkout', r, { requestId });
      if (ok(r)) {
        const key = `${clientId}|${requestId}`;
        const seen = leasesByRequest.get(key) ?? new Set();
        seen.add(r.body.id);
        leasesByRequest.set(key, seen);
        const holding = {
          lease: r.body.id,
          client: clientId,
          node: node.name,
          start: r.wallDoneAt,
          end: Date.parse(r.body.expiresAt),
        };
        holdings.push(holding);
        lease = { id: r.body.id, holding };
        holdersNow.set(clientId, node.name);
        renewals = 0;
        lastRenewAt = now();
      } else if (r.status === 409 && r.code === 'SEATS_EXHAUSTED') {
        await sleep(300);
      } else {
        await sleep(r.retryable ? 200 : 500); // same requestId: a retry must return the same lease
      }
    } else if (renewals >= HOLD_RENEWALS) {
      const r = await call('DELETE', `${node.url}/v1/leases/${lease.id}`);
      record('release', r);
      // Released: ours until the release was sent. Not released: ours (to be safe) until the token expires.
      if (ok(r)) lease.holding.end = Math.min(lease.holding.end, r.wallSentAt);
      drop();
      await sleep(1000); // done for now; back in line after a pause, so that waiting clients get seats too
    } else {
      const wait = lastRenewAt + RENEW_EVERY_MS - now();
      if (wait > 0) await sleep(Math.min(wait, Math.max(0, stopAt - now())));
      if (now() >= stopAt) break;
      const r = await call('POST', `${node.url}/v1/leases/${lease.id}/renew`);
      record('renew', r);
      if (ok(r)) {
        lease.holding.end = Date.parse(r.body.expiresAt);
        renewals++;
        lastRenewAt = now();
      } else if (r.retryable) {
        await sleep(200);
      } else {
        drop(); // LEASE_EXPIRED and the like: the seat is gone
      }
    }
  }
  // Leave: hand the seat back so that the final server-side count is about this run only.
  if (lease) {
    const r = await call('DELETE', `${node.url}/v1/leases/${lease.id}`);
    if (ok(r)) lease.holding.end = Math.min(lease.holding.end, r.wallSentAt);
  }
}

/** Polls GET /readyz of `node` one call after another until `stopAt`. */
async function probeReady(node, stopAt, probes) {
  for (let i = 0; i < 2000 && now() < stopAt; i++) {
    const r = await call('GET', `${node.url}/readyz`, undefined, 4000);
    probes.push({
      node: node.name,
      sentAt: r.sentAt,
      doneAt: r.doneAt,
      ms: r.ms,
      status: r.status,
      code: r.code,
    });
    await sleep(250);
  }
}

/** Samples the seats the store says are held, through `pick()` (a node that is not cut off). */
async function sampleSeats(pick, stopAt, samples) {
  for (let i = 0; i < 2000 && now() < stopAt; i++) {
    const node = pick();
    const r = await call('GET', `${node.url}/v1/leases?feature=solver`, undefined, 3000);
    if (ok(r)) {
      const held = r.body.leases.length; // the leases holding seats now
      samples.push({ at: r.doneAt, node: node.name, held });
    }
    await sleep(500);
  }
}

// --- analysis ------------------------------------------------------------------------------------------------

const percentile = (sorted, p) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function latencyStats(list) {
  const ms = list.map((o) => o.ms).sort((a, b) => a - b);
  const failures = {};
  for (const o of list) {
    if (answered(o)) continue;
    const key = `${o.status} ${o.code ?? ''}`.trim();
    failures[key] = (failures[key] ?? 0) + 1;
  }
  return {
    count: list.length,
    ok: list.filter(ok).length,
    seatsExhausted: list.filter((o) => o.code === 'SEATS_EXHAUSTED').length,
    leaseExpired: list.filter((o) => o.code === 'LEASE_EXPIRED').length,
    failures,
    p50Ms: round(percentile(ms, 50)),
    p95Ms: round(percentile(ms, 95)),
    maxMs: round(ms.at(-1) ?? 0),
  };
}

/**
 * Per client, runs of consecutive failed checkouts/renewals (see `answered`):
 * from the first failed call's send to the answer of the next successful one (or the end of the run).
 */
function failureStreaks(list, endAt) {
  const byClient = new Map();
  for (const o of list) {
    if (o.kind === 'release') continue;
    const arr = byClient.get(o.client) ?? [];
    arr.push(o);
    byClient.set(o.client, arr);
  }
  const streaks = [];
  for (const [client, arr] of byClient) {
    arr.sort((a, b) => a.sentAt - b.sentAt);
    let start;
    let failed = 0;
    for (const o of arr) {
      const good = answered(o);
      if (!good) {
        start ??= o.sentAt;
        failed++;
      } else if (start !== undefined) {
        streaks.push({
          client,
          node: o.node,
          from: round(start),
          ms: round(o.doneAt - start),
          failed,
          ended: true,
        });
        start = undefined;
        failed = 0;
      }
    }
    if (start !== undefined) {
      streaks.push({
        client,
        node: arr[0].node,
        from: round(start),
        ms: round(endAt - start),
        failed,
        ended: false,
      });
    }
  }
  return streaks.sort((a, b) => b.ms - a.ms);
}

/** Most seats that clients held at one instant (a sweep over the holding intervals). */
function maxConcurrentHoldings() {
  const events = [];
  for (const h of holdings) {
    if (h.end <= h.start) continue;
    events.push([h.start, 1], [h.end, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same instant
  let held = 0;
  let max = 0;
  for (const [, d] of events) {
    held += d;
    max = Math.max(max, held);
  }
  return max;
}

function duplicateRequestIds() {
  return [...leasesByRequest.entries()]
    .filter(([, ids]) => ids.size > 1)
    .map(([key, ids]) => ({ key, leases: [...ids] }));
}

async function serverSideChecks(node) {
  const r = await call('GET', `${node.url}/v1/leases?feature=solver&all=true&limit=10000`, undefined, 5000);
  if (!ok(r))
    return { error: `GET /v1/leases?all=true via ${node.name} answered ${r.status} ${r.code ?? ''}` };
  const byRequest = new Map();
  for (const l of r.body.leases) {
    const key = `${l.client.id}|${l.requestId}`;
    byRequest.set(key, [...(byRequest.get(key) ?? []), l.id]);
  }
  return {
    leasesRecorded: r.body.leases.length,
    duplicateRequestIds: [...byRequest.entries()]
      .filter(([, ids]) => ids.length > 1)
      .map(([key, ids]) => ({ key, ids })),
    maxSlot: Math.max(-1, ...r.body.leases.map((l) => l.slot)),
  };
}

const phaseOf = (o, cutAt, healAt) => (o.sentAt < cutAt ? 'before' : o.sentAt < healAt ? 'cut' : 'after');

function opsReport(nodes, cutAt, healAt) {
  const report = {};
  for (const n of nodes) {
    const mine = ops.filter((o) => o.node === n.name && o.kind !== 'release');
    report[n.name] = {
      before: latencyStats(mine.filter((o) => phaseOf(o, cutAt, healAt) === 'before')),
      cut: latencyStats(mine.filter((o) => phaseOf(o, cutAt, healAt) === 'cut')),
      after: latencyStats(mine.filter((o) => phaseOf(o, cutAt, healAt) === 'after')),
      grantsDuringCut: mine.filter(
        (o) => o.kind === 'checkout' && ok(o) && o.sentAt >= cutAt && o.doneAt < healAt,
      ).length,
    };
  }
  return report;
}

// --- the scenarios -------------------------------------------------------------------------------------------

async function startEverything() {
  const { bin: realEtcd, version } = await locateEtcd({ onWarning: log });
  log(`etcd ${version} at ${realEtcd}`);
  const wrapper = writeEtcdWrapper(realEtcd);
  // Members write their data under dirs the harness makes as root; umask 0 lets their own uids in.
  const mask = process.umask(0);
  let etcd;
  try {
    etcd = await EtcdCluster.start({
      members: 3,
      dataDir: join(WORK_DIR, 'etcd'),
      hosts: ETCD_HOSTS,
      bin: wrapper,
    });
  } finally {
    process.umask(mask);
  }
  return { etcd };
}

async function startNodes(etcd, vendorKeyFile) {
  const nodes = NODE_HOSTS.map((host, i) => {
    const name = `node-${i + 1}`;
    const dataDir = join(WORK_DIR, name);
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, uidOf(host), uidOf(host));
    return new NamespacedNode(
      name,
      host,
      [
        '--store',
        'etcd',
        '--etcd-endpoints',
        etcd.clientUrls().join(','),
        '--host',
        host,
        '--port',
        String(NODE_PORT),
        '--data-dir',
        dataDir,
        '--node-id',
        name,
        '--vendor-key',
        vendorKeyFile,
        '--log-level',
        'warn',
      ],
      // Every node of an etcd cluster shares one key-encryption key (docs/security.md).
      { LEASEHOLD_ADMIN_TOKEN: adminToken, LEASEHOLD_KEK: Buffer.alloc(32, 1).toString('base64') },
    );
  });
  // One at a time: the first creates the cluster signing key, the others find it (as DevCluster does).
  for (const node of nodes) await node.start();
  return nodes;
}

async function installLicense(node) {
  const pems = await generateKeyPairPems('sig');
  const key = await importPrivateKey(pems.privatePem);
  const vendorKeyFile = join(WORK_DIR, 'vendor.pub.pem');
  writeFileSync(vendorKeyFile, pems.publicPem, { mode: 0o644 });
  const nowS = Math.floor(Date.now() / 1000);
  const license = await issueLicense(
    {
      lid: 'lic-partition',
      ver: 1,
      customer: 'Acme',
      product: 'cad',
      features: { solver: { seats: SEATS } },
      iat: nowS - 60,
      nbf: nowS - 60,
      exp: nowS + 86_400,
      lease: { ttl: LEASE_TTL_S, grace: 0, policy: 'strict' },
    },
    key,
  );
  return { vendorKeyFile, install: () => call('POST', `${node().url}/v1/licenses`, { license }) };
}

/** Nodes cut off from etcd right now: the seat sampler goes through the others. */
const cutOffNodes = new Set();

/**
 * Runs the workload (clients pinned to every node, a seat sampler, a /readyz prober per node) for the
 * warm-up, then installs the cut that `chooseCut()` describes, holds it for CUT_MS, heals and runs on for
 * AFTER_MS. `duringCut` runs right after the cut is installed.
 */
async function runWithPartition({ etcd, nodes, chooseCut, duringCut }) {
  const stopAt = WARMUP_MS + CUT_MS + AFTER_MS + now();
  const clients = [];
  for (const node of nodes) {
    for (let i = 0; i < CLIENTS_PER_NODE; i++)
      clients.push(runClient(`${node.name}-client-${i + 1}`, node, stopAt));
  }
  const samples = [];
  const probes = [];
  let turn = 0;
  const pick = () => {
    const usable = nodes.filter((n) => !cutOffNodes.has(n.name));
    return usable[turn++ % usable.length];
  };
  const background = [sampleSeats(pick, stopAt, samples), ...nodes.map((n) => probeReady(n, stopAt, probes))];

  await sleep(WARMUP_MS);
  const partition = await chooseCut();
  log(`cut: ${partition.describe}`);
  for (const name of partition.cutOffNodes ?? []) cutOffNodes.add(name);
  cut(partition.pairs);
  const cutAt = now();
  const during = await duringCut(cutAt, partition);
  const left = cutAt + CUT_MS - now();
  if (left > 0) await sleep(left);
  const dropped = droppedPackets();
  heal();
  const healAt = now();
  log(`healed after ${round(healAt - cutAt)} ms (${dropped} packets dropped by the partition rules)`);
  const healthyAfter = await etcd.waitHealthy(20_000).then(
    (leader) => ({ ms: round(now() - healAt), leader: leader.name }),
    (err) => ({ ms: -1, error: String(err?.message ?? err) }),
  );
  log(`etcd healthy again ${healthyAfter.ms} ms after the heal (leader ${healthyAfter.leader})`);
  const afterHeal = partition.afterHeal ? await partition.afterHeal(healAt) : undefined;
  await Promise.all([...clients, ...background]);
  cutOffNodes.clear();
  const endAt = now();
  return { cutAt, healAt, endAt, dropped, during, afterHeal, healthyAfter, samples, probes, partition };
}

/** /readyz answers per node and phase. */
function readyzReport(nodes, probes, cutAt, healAt) {
  const report = {};
  for (const n of nodes) {
    const mine = probes.filter((p) => p.node === n.name);
    const phase = (name) => {
      const list = mine.filter((p) => phaseOf(p, cutAt, healAt) === name);
      return {
        answers: countBy(list, (p) => `${p.status} ${p.code ?? ''}`.trim()),
        maxMs: round(Math.max(0, ...list.map((p) => p.ms))),
      };
    };
    report[n.name] = { before: phase('before'), cut: phase('cut'), after: phase('after') };
  }
  return report;
}

async function leaderScenario(etcd, nodes) {
  const oldLeader = await etcd.leader(5000);
  const others = ETCD_HOSTS.filter((h) => h !== oldLeader.host);
  log(`etcd leader is ${oldLeader.name} (${oldLeader.host})`);
  const run = await runWithPartition({
    etcd,
    nodes,
    chooseCut: async () => ({
      pairs: [...others, ...NODE_HOSTS].map((h) => [oldLeader.host, h]),
      describe: `isolate etcd leader ${oldLeader.name} (${oldLeader.host}) from ${[...others, ...NODE_HOSTS].join(', ')}`,
    }),
    duringCut: async (cutAt) => {
      // The majority elects a new leader; the isolated one steps down (CheckQuorum) without disrupting it.
      let newLeader;
      for (let i = 0; i < 100 && now() - cutAt < 8000; i++) {
        const l = await etcd.leader(1000).catch(() => undefined);
        if (l && l !== oldLeader) {
          newLeader = { name: l.name, ms: round(now() - cutAt) };
          break;
        }
        await sleep(25);
      }
      log(`new leader: ${newLeader ? `${newLeader.name} after ${newLeader.ms} ms` : 'NONE within 8 s'}`);
      await sleep(Math.max(0, 3000 - (now() - cutAt)));
      const isolatedView = await readStatus(oldLeader.clientUrl, { timeoutMs: 1000 }).then(
        (s) => ({
          stillClaimsLeadership: s.leaderId === s.memberId,
          leaderId: s.leaderId,
          raftTerm: s.raftTerm,
        }),
        (err) => ({ error: String(err?.message ?? err) }),
      );
      log(`the isolated member's own view 3 s into the cut: ${JSON.stringify(isolatedView)}`);
      return { newLeader, isolatedView };
    },
  });
  const rejoined = await readStatus(oldLeader.clientUrl, { timeoutMs: 1000 }).then(
    (s) => ({ followsLeader: s.leaderId !== '0', isLeader: s.leaderId === s.memberId, raftTerm: s.raftTerm }),
    (err) => ({ error: String(err?.message ?? err) }),
  );
  return {
    oldLeader: oldLeader.name,
    newLeader: run.during.newLeader,
    isolatedView: run.during.isolatedView,
    healthyAfterHeal: run.healthyAfter,
    oldLeaderAfterHeal: rejoined,
    ...common(run, nodes),
  };
}

/** The victim's entry in /v1/cluster as `through` sees it: absent, or its heartbeat age and health. */
async function membershipOf(victim, through) {
  const r = await call('GET', `${through.url}/v1/cluster`, undefined, 3000);
  if (!ok(r)) return { error: `${r.status} ${r.code ?? ''}` };
  const entry = r.body.nodes.find((n) => n.id === victim.name);
  return entry
    ? { listed: true, healthy: entry.healthy, heartbeatAgeMs: entry.heartbeatAgeMs }
    : { listed: false };
}

async function nodeScenario(etcd, nodes) {
  const pidsBefore = new Map(nodes.map((n) => [n.name, n.pid]));
  const run = await runWithPartition({
    etcd,
    nodes,
    chooseCut: async () => {
      // The node to cut: one whose clients hold a seat (so renewals are refused) and wait for one (so
      // checkouts are), preferring the one holding most. With 4 seats and 3 clients a node, one exists.
      const held = (n) => [...holdersNow.values()].filter((name) => name === n.name).length;
      const victim =
        [...nodes].sort((a, b) => held(b) - held(a)).find((n) => held(n) > 0 && held(n) < CLIENTS_PER_NODE) ??
        nodes[1];
      const witness = nodes.find((n) => n !== victim);
      return {
        victim,
        witness,
        seatsHeldAtCut: held(victim),
        cutOffNodes: [victim.name],
        pairs: ETCD_HOSTS.map((h) => [victim.host, h]),
        describe: `cut ${victim.name} (${victim.host}, ${held(victim)} of its clients hold seats) off from etcd ${ETCD_HOSTS.join(', ')}`,
        afterHeal: async (healAt) => {
          // It rejoins by itself: a new heartbeat lease at its next heartbeat (docs/ha.md).
          for (let i = 0; i < 100 && now() - healAt < 15_000; i++) {
            const m = await membershipOf(victim, witness);
            if (m.listed && m.healthy) return { rejoinedMs: round(now() - healAt) };
            await sleep(200);
          }
          return { rejoinedMs: -1 };
        },
      };
    },
    duringCut: async (cutAt, { victim, witness }) => {
      // Past the node TTL (3 s) plus a heartbeat: the others no longer count it as a live member.
      await sleep(Math.max(0, Math.min(CUT_MS - 500, 5000) - (now() - cutAt)));
      const m = await membershipOf(victim, witness);
      log(
        `${victim.name} as ${witness.name} sees it ${round(now() - cutAt)} ms into the cut: ${JSON.stringify(m)}`,
      );
      return { membership: m };
    },
  });
  const { cutAt, healAt, probes, partition } = run;
  const victim = partition.victim;
  const victimOps = ops.filter((o) => o.node === victim.name);
  // Calls sent after the cut was installed and answered before the heal: the node had no store at all.
  const cutOff = victimOps.filter((o) => o.sentAt >= cutAt && o.doneAt < healAt);
  const probesCut = probes.filter((p) => p.node === victim.name && p.sentAt >= cutAt && p.doneAt < healAt);
  const firstReady503 = probesCut.find((p) => p.status === 503);
  const firstReadyAfterHeal = probes.find(
    (p) => p.node === victim.name && p.sentAt >= healAt && p.status === 200,
  );
  const firstAnswerAfterHeal = victimOps
    .filter((o) => o.sentAt >= healAt && answered(o))
    .sort((a, b) => a.doneAt - b.doneAt)[0];
  return {
    victim: victim.name,
    seatsHeldAtCut: partition.seatsHeldAtCut,
    victimCalls: {
      sentDuringCut: cutOff.length,
      byKind: countBy(cutOff, (o) => o.kind),
      succeeded: cutOff
        .filter(ok)
        .map((o) => ({ kind: o.kind, status: o.status, at: round(o.sentAt - cutAt) })),
      answers: countBy(cutOff, (o) => `${o.kind} ${o.status} ${o.code ?? ''} retryable=${o.retryable}`),
      maxAnswerMs: round(Math.max(0, ...cutOff.map((o) => o.ms))),
      slowest: [...cutOff]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3)
        .map((o) => ({ kind: o.kind, at: round(o.sentAt - cutAt), ms: round(o.ms), code: o.code })),
      // Sent before the cut, answered after it: in flight when the cable was pulled.
      inFlightAtCut: victimOps
        .filter((o) => o.sentAt < cutAt && o.doneAt >= cutAt)
        .map((o) => ({ kind: o.kind, status: o.status, code: o.code, ms: round(o.ms) })),
    },
    victimReadyz: {
      probesDuringCut: probesCut.length,
      answers: countBy(probesCut, (p) => `${p.status} ${p.code ?? ''}`.trim()),
      maxAnswerMs: round(Math.max(0, ...probesCut.map((p) => p.ms))),
      cutToFirst503Ms: firstReady503 ? round(firstReady503.doneAt - cutAt) : -1,
      healToReadyMs: firstReadyAfterHeal ? round(firstReadyAfterHeal.doneAt - healAt) : -1,
    },
    victimMembershipDuringCut: run.during.membership,
    victimRejoinedMs: run.afterHeal?.rejoinedMs ?? -1,
    healToFirstAnswerMs: firstAnswerAfterHeal ? round(firstAnswerAfterHeal.doneAt - healAt) : -1,
    restartedNodes: nodes.filter((n) => n.exited || n.pid !== pidsBefore.get(n.name)).map((n) => n.name),
    ...common(run, nodes),
  };
}

/**
 * Per node, one string per second from the cut on (by send time): `ok/failed` checkouts and renewals, so a
 * report shows whether failures stop after the election or last as long as the partition.
 */
function timeline(nodes, cutAt, endAt) {
  const seconds = Math.ceil((endAt - cutAt) / 1000);
  const out = {};
  for (const n of nodes) {
    const mine = ops.filter((o) => o.node === n.name && o.kind !== 'release' && o.sentAt >= cutAt);
    out[n.name] = Array.from({ length: seconds }, (_, i) => {
      const inSecond = mine.filter((o) => Math.floor((o.sentAt - cutAt) / 1000) === i);
      const good = inSecond.filter(answered).length;
      return `${good}/${inSecond.length - good}`;
    }).join(' ');
  }
  return out;
}

/** Per node, what happened to calls sent from SETTLE_MS after the cut until the heal. */
function afterSettle(nodes, run) {
  const from = run.cutAt + SETTLE_MS;
  const inWindow = (o) => o.sentAt >= from && o.sentAt < run.healAt;
  const out = {};
  for (const n of nodes) {
    const mine = ops.filter((o) => o.node === n.name && o.kind !== 'release' && inWindow(o));
    const failed = mine.filter((o) => !answered(o));
    const probes = run.probes.filter((p) => p.node === n.name && inWindow(p));
    out[n.name] = {
      sent: mine.length,
      failed: failed.length,
      firstFailures: failed
        .slice(0, 3)
        .map((o) => ({ kind: o.kind, at: round(o.sentAt - run.cutAt), ms: round(o.ms), code: o.code })),
      maxMs: round(Math.max(0, ...mine.map((o) => o.ms))),
      readyzNot200: probes.filter((p) => p.status !== 200).length,
      readyzProbes: probes.length,
    };
  }
  return out;
}

function countBy(list, key) {
  const counts = {};
  for (const x of list) counts[key(x)] = (counts[key(x)] ?? 0) + 1;
  return counts;
}

function common(run, nodes) {
  const streaks = failureStreaks(ops, run.endAt);
  const byNode = {};
  for (const n of nodes) {
    const mine = streaks.filter((s) => s.node === n.name);
    byNode[n.name] = { longestMs: mine[0]?.ms ?? 0, streaks: mine.length, longest: mine[0] };
  }
  return {
    seats: SEATS,
    cutMs: round(run.healAt - run.cutAt),
    droppedPackets: run.dropped,
    ops: opsReport(nodes, run.cutAt, run.healAt),
    readyz: readyzReport(nodes, run.probes, run.cutAt, run.healAt),
    timeline: timeline(nodes, run.cutAt, run.endAt),
    settleMs: SETTLE_MS,
    afterSettle: afterSettle(nodes, run),
    outages: byNode,
    invariants: {
      maxSeatsHeldByClients: maxConcurrentHoldings(),
      maxSeatsHeldSampled: Math.max(0, ...run.samples.map((s) => s.held)),
      seatSamples: run.samples.length,
      grants: holdings.length,
      duplicateRequestIdsClientSide: duplicateRequestIds(),
    },
  };
}

// --- main ----------------------------------------------------------------------------------------------------

async function main() {
  assertPrivateNamespace();
  chmodSync(WORK_DIR, 0o755); // the members' and nodes' uids must reach their dirs
  overlayPasswd();
  setUpNetwork();
  adminToken = generateApiToken('admin');
  let etcd;
  let nodes = [];
  try {
    ({ etcd } = await startEverything());
    log(`etcd up: ${etcd.clientUrls().join(' ')}`);
    const license = await installLicense(() => nodes[0]);
    nodes = await startNodes(etcd, license.vendorKeyFile);
    log(`nodes up: ${nodes.map((n) => n.url).join(' ')}`);
    const installed = await license.install();
    if (!ok(installed))
      throw new Error(`license install answered ${installed.status} ${JSON.stringify(installed.body)}`);
    const result =
      SCENARIO === 'leader' ? await leaderScenario(etcd, nodes) : await nodeScenario(etcd, nodes);
    const server = await serverSideChecks(nodes[0]);
    const final = { scenario: SCENARIO, ...result, server };
    final.invariants.duplicateRequestIdsServerSide = server.duplicateRequestIds;
    process.stdout.write(`PARTITION_RESULT ${JSON.stringify(final)}\n`);
  } catch (err) {
    for (const n of nodes) log(`${n.name} output (tail):\n${n.output().slice(-2000)}`);
    if (etcd) {
      for (const m of etcd.members) {
        const tail = (() => {
          try {
            return readFileSync(m.logFile, 'utf8').slice(-1500);
          } catch {
            return '(no log)';
          }
        })();
        log(`${m.name} log (tail):\n${tail}`);
      }
    }
    throw err;
  } finally {
    try {
      heal();
    } catch {
      // No table (set-up failed early): nothing to heal.
    }
    await Promise.all(nodes.map((n) => n.stop()));
    await etcd?.stop();
  }
}

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (err) => {
    log(`FAILED: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
