// Client SDK benchmark (@leasehold/client).
//
//   npx tsc -b && flock /tmp/leasehold-heavy.lock node bench/client.mjs
//
// 1. Offline lease-token verification on one core (this process is single-threaded): distinct tokens
//    (a full Ed25519 check each, node:crypto and jose/WebCrypto), and one token verified again and again
//    (the memoized signature check; the time checks still run every call).
// 2. Client CPU per renewal: one lease renewed back to back against a real 3-node cluster on 3 etcd
//    members; the nodes are other processes, so process.cpuUsage() counts the client alone (HTTP,
//    JSON, token verification, balancing, lease bookkeeping). Three ways: a bare fetch with no SDK (the
//    floor the default transport sets), the SDK on the global fetch, the SDK on nodeFetch().
// 3. A node SIGKILLed under renewing clients: BENCH_CLIENTS clients with BENCH_LEASES leases each, renewing
//    by themselves (TTL 5 s: every ~1.7 s), plus one client renewing back to back (20 ms pacing) whose
//    longest gap between two successful renewals, minus the pacing, is the outage it saw. The node that
//    served the most renewals in the last second is killed. Failed attempts come from the SDK's
//    `leasehold:client:request` diagnostics channel; lost leases from its `lost` events.
//
// Env: BENCH_VERIFY_MS (3000), BENCH_RENEWALS (2000), BENCH_CLIENTS (10), BENCH_LEASES (5),
// BENCH_OBSERVE_MS (10000). The machine is shared and noisy: figures vary by 2x between runs.
import { fork } from 'node:child_process';
import { verify as ed25519Verify, generateKeyPairSync, sign } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, DIAGNOSTICS_CHANNELS, nodeFetch, verifyLeaseToken } from '@leasehold/client';
// The SDK's internal seam, for the comparison of the two signature verifiers only.
import { joseVerifier, verifyLeaseTokenWith } from '@leasehold/client/internal';
import { FakeCluster } from '@leasehold/client/testing';
import { startVendorCluster } from '@leasehold/devtools';
import { commandLine, writeResults } from './lib/results.mjs';
import { renderReport } from './report.mjs';

const VERIFY_MS = Number(process.env.BENCH_VERIFY_MS ?? 3000);
const RENEWALS = Number(process.env.BENCH_RENEWALS ?? 2000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const LEASES = Number(process.env.BENCH_LEASES ?? 5);
const OBSERVE_MS = Number(process.env.BENCH_OBSERVE_MS ?? 10_000);
const PACING_MS = 20;
const log = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

// Child mode: the light server for phase 2 (FakeCluster over HTTP); tells the parent its URL and token.
if (process.argv[2] === '--fake-server') {
  const fake = await FakeCluster.start({ features: { f: 10_000 }, ttlSeconds: 3600, graceSeconds: 60 });
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const answer = await fake.fetch(`${fake.urls[0]}${req.url}`, {
        method: req.method,
        headers: { authorization: req.headers.authorization ?? '' },
        body: chunks.length > 0 ? Buffer.concat(chunks).toString() : null,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(await answer.text());
    });
  });
  server.listen(0, '127.0.0.1', () =>
    process.send({
      url: `http://127.0.0.1:${server.address().port}`,
      token: fake.token,
      vendorKeys: fake.vendorKeys,
    }),
  );
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-client-'));
  let cluster;
  // The real cluster vendor's public key: the SDK checks every grant against it (issue 11).
  let clusterVendorKeys;
  const cleanup = async () => {
    await cluster?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

  // --- 1. offline verification -------------------------------------------------------------------------

  async function verificationRate(label, tokens, verify) {
    let n = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const end = start + VERIFY_MS;
    while (performance.now() < end) {
      // Bounded: VERIFY_MS of wall time; 64 per time check.
      for (let i = 0; i < 64; i++) await verify(tokens[n++ % tokens.length]);
    }
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const rate = (n / wall) * 1000;
    log(
      `  ${label.padEnd(58)} ${fmt(rate).padStart(8)}/s  (${fmt((wall * 1000) / n, 1)} µs each; ` +
        `CPU ${fmt(((used.user + used.system) / 1000 / wall) * 100)}% of one core)`,
    );
    return rate;
  }

  async function benchVerification() {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const jwks = {
      keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', alg: 'EdDSA', use: 'sig' }],
    };
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = b64({ alg: 'EdDSA', kid: 'bench-1', typ: 'lease+jwt' });
    // 5,000 distinct tokens: more than the memo holds (1,024), so every check is a full one.
    const tokens = Array.from({ length: 5000 }, (_, i) => {
      const payload = b64({
        iss: 'leasehold',
        sub: 'bench',
        jti: `lease-${i}`,
        lic: 'lic-bench',
        feat: 'f',
        fence: i + 1,
        slot: i % 100,
        grace: 600,
        iat: now,
        exp: now + 3600,
      });
      return `${header}.${payload}.${sign(null, Buffer.from(`${header}.${payload}`), privateKey).toString('base64url')}`;
    });
    log('1. offline lease-token verification, one core');
    // The ceiling: Node's Ed25519 verify alone on the same tokens, already split and decoded.
    const parts = tokens.map((t) => {
      const dot = t.lastIndexOf('.');
      return { data: Buffer.from(t.slice(0, dot)), sig: Buffer.from(t.slice(dot + 1), 'base64url') };
    });
    const raw = await verificationRate('node:crypto verify() alone (the ceiling)', parts, (p) => {
      if (!ed25519Verify(null, p.data, publicKey, p.sig)) throw new Error('bench token did not verify');
    });
    const distinct = await verificationRate('distinct tokens, node:crypto (Node, Deno, Bun)', tokens, (t) =>
      verifyLeaseToken(t, jwks),
    );
    const jose = await verificationRate('distinct tokens, jose over WebCrypto (browsers)', tokens, (t) =>
      verifyLeaseTokenWith(joseVerifier, t, jwks),
    );
    const same = await verificationRate('one token again and again (memoized signature)', [tokens[0]], (t) =>
      verifyLeaseToken(t, jwks, { feature: 'f', clientId: 'bench' }),
    );
    return { raw, distinct, jose, same };
  }

  // --- cluster --------------------------------------------------------------------------------------------

  async function startCluster() {
    let vendor;
    ({ cluster, vendor } = await startVendorCluster(dir, {
      // The load comes through one client token per license: keep its per-node rate limit out of the way.
      nodeEnv: { LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE: '1000000000' },
    }));
    clusterVendorKeys = vendor.publicPem;
    const url = cluster.urls()[0];
    const admin = async (method, path, body) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const now = Math.floor(Date.now() / 1000);
    // Two licenses: TTL 5 s (renewals every ~1.7 s) for the SIGKILL phase, and TTL 1 h for the CPU phase,
    // whose round robin over 1,200 leases takes longer than 5 s.
    const tokens = {};
    for (const [lid, ttl] of [
      ['lic-bench', 5],
      ['lic-bench-long', 3600],
    ]) {
      const license = await vendor.issue({
        lid,
        customer: 'bench',
        product: 'bench',
        features: { f: { seats: 10_000 } },
        iat: now,
        exp: now + 86_400,
        lease: { ttl, grace: 5, policy: 'strict' },
      });
      await admin('POST', '/v1/licenses', { license });
      tokens[lid] = (await admin('POST', '/v1/tokens', { scope: 'client', license: lid, name: lid })).token;
    }
    return tokens;
  }

  // --- 2. CPU per renewal -----------------------------------------------------------------------------------

  /** CPU and round trip of `count` sequential calls of `call(i)`, after a warm-up; CPU of this process only. */
  async function cpuPerCall(call, count) {
    for (let i = 0; i < 200; i++) await call(i); // warm-up: JIT, connections, JWKS
    const walls = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await call(i);
      walls.push(performance.now() - t);
    }
    const used = process.cpuUsage(cpu);
    return { cpu: (used.user + used.system) / count, p50: pct(walls, 50), p99: pct(walls, 99) };
  }

  // Renewals go round robin over this many leases: a lease is renewed again only after a full round (over a
  // second), so every renewal brings a token never seen before and pays its full Ed25519 check — as in life,
  // where renewals are a third of a TTL apart. (Back to back, two renewals within one second of the same
  // lease get the very same token, and the memoized check would make them look cheaper than they are.)
  const ROUND_ROBIN = 1200;

  async function checkoutMany(client, count) {
    const leases = [];
    // Bounded: `count` checkouts, 16 at a time.
    for (let i = 0; i < count; i += 16) {
      const batch = Array.from({ length: Math.min(16, count - i) }, () =>
        client.checkout('f', { autoRenew: false }),
      );
      leases.push(...(await Promise.all(batch)));
    }
    return leases;
  }

  async function benchRenewalCpu(title, servers, token, vendorKeys) {
    log(title);
    const line = (label, r) =>
      log(
        `  ${label.padEnd(58)} ${fmt(r.cpu).padStart(6)} µs CPU   round trip p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms`,
      );
    const results = {};
    // Baseline: the same renewals with a bare fetch and JSON.parse, no SDK.
    {
      const client = createClient({ servers, token, vendorKeys, clientId: 'cpu-baseline', discovery: false });
      const leases = await checkoutMany(client, ROUND_ROBIN);
      results.raw = await cpuPerCall(async (i) => {
        const lease = leases[i % leases.length];
        const res = await fetch(`${servers[0]}/v1/leases/${lease.id}/renew?client=cpu-baseline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        JSON.parse(await res.text());
      }, RENEWALS);
      line('bare fetch() + JSON.parse, no SDK (Node 20 undici)', results.raw);
      await client.close();
    }
    for (const [key, label, transport] of [
      ['sdkFetch', 'lease.renew(), SDK on the global fetch (default)', undefined],
      ['sdkNode', 'lease.renew(), SDK on nodeFetch() (node:http keep-alive)', nodeFetch()],
    ]) {
      const client = createClient({
        servers,
        token,
        vendorKeys,
        clientId: `cpu-${key}`,
        discovery: false,
        ...(transport ? { fetch: transport } : {}),
      });
      const leases = await checkoutMany(client, ROUND_ROBIN);
      const before = client.metrics().counters.tokensVerified;
      results[key] = await cpuPerCall((i) => leases[i % leases.length].renew(), RENEWALS);
      line(label, results[key]);
      const verified = client.metrics().counters.tokensVerified - before;
      if (verified !== RENEWALS + 200)
        log(`  (!) ${verified} tokens verified for ${RENEWALS + 200} renewals`);
      if (key === 'sdkFetch') {
        // The hot path an application calls on every use of the feature.
        let entitled = 0;
        const t = performance.now();
        for (let i = 0; i < 1_000_000; i++) if (client.isEntitled('f')) entitled++;
        results.isEntitledNs = ((performance.now() - t) * 1e6) / 1_000_000;
        log(
          `  ${'isEntitled()'.padEnd(58)} ${fmt(results.isEntitledNs).padStart(6)} ns per call (${entitled === 1_000_000 ? 'all true' : 'NOT all true'})`,
        );
      }
      await client.close();
    }
    return results;
  }

  /** The light server process for phase 2b. */
  async function startFakeServer() {
    const child = fork(new URL(import.meta.url).pathname, ['--fake-server'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const info = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the fake server exited with ${code}`)));
    });
    return { ...info, stop: () => child.kill('SIGKILL') };
  }

  // --- 3. SIGKILL under renewing clients --------------------------------------------------------------------

  async function benchSigkill(token) {
    const attempts = [];
    subscribe(DIAGNOSTICS_CHANNELS.request, (m) =>
      attempts.push({
        at: performance.now(),
        server: m.server,
        ms: m.durationMs,
        failed: m.error?.retryable,
      }),
    );
    const counts = { lost: 0, degraded: 0, failover: 0, restored: 0 };
    const clients = [];
    for (let c = 0; c < CLIENTS; c++) {
      const client = createClient({
        servers: cluster.urls(),
        token,
        vendorKeys: clusterVendorKeys,
        clientId: `renewing-${c}`,
        timeoutMs: 1000,
      });
      for (const event of Object.keys(counts)) client.on(event, () => counts[event]++);
      clients.push(client);
      for (let l = 0; l < LEASES; l++) await client.checkout('f');
    }
    // The back-to-back client: a success timeline.
    const hot = createClient({
      servers: cluster.urls(),
      token,
      vendorKeys: clusterVendorKeys,
      clientId: 'hot',
      timeoutMs: 1000,
      discovery: false,
    });
    const hotLease = await hot.checkout('f', { autoRenew: false });
    const successes = [];
    const hotFailures = [];
    let running = true;
    const hotLoop = (async () => {
      while (running) {
        const t = performance.now();
        try {
          await hotLease.renew();
          successes.push(performance.now());
        } catch (err) {
          hotFailures.push({ at: t, code: err.code });
        }
        await sleep(PACING_MS);
      }
    })();

    await sleep(3000);
    // Kill the node that served the most renewals in the last second.
    const since = performance.now() - 1000;
    const served = new Map();
    for (const a of attempts)
      if (a.at > since && !a.failed) served.set(a.server, (served.get(a.server) ?? 0) + 1);
    const [target] = [...served.entries()].sort((a, b) => b[1] - a[1])[0];
    const victim = cluster.nodes.find((n) => `${n.url}/` === target);
    const killedAt = performance.now();
    await victim.kill('SIGKILL');
    await sleep(OBSERVE_MS);
    running = false;
    await hotLoop;

    const failed = attempts.filter((a) => a.failed && a.at >= killedAt - 100);
    const gaps = successes.slice(1).map((t, i) => t - successes[i]);
    const around = successes.filter((t) => t > killedAt - 2000);
    const gapsAround = around.slice(1).map((t, i) => t - around[i]);
    const outage = Math.max(0, Math.max(...gapsAround) - PACING_MS);
    const totalFailedMs = failed.reduce((sum, a) => sum + a.ms, 0);
    const renewalsAfter = attempts.filter((a) => a.at > killedAt && !a.failed).length;
    log(
      `3. SIGKILL of ${victim.name} (${served.get(target)} of the renewals in the last second) under renewing clients`,
    );
    log(
      `  ${CLIENTS} clients x ${LEASES} leases renewing by themselves + 1 back-to-back client; observed ${OBSERVE_MS} ms after the kill`,
    );
    log(
      `  lost leases: ${counts.lost}; degraded: ${counts.degraded}; failover events: ${counts.failover}; ` +
        `successful attempts after the kill: ${renewalsAfter}`,
    );
    log(
      `  failed attempts after the kill: ${failed.length}, ${fmt(totalFailedMs, 1)} ms in total, longest ` +
        `${fmt(Math.max(0, ...failed.map((a) => a.ms)), 1)} ms`,
    );
    log(
      `  back-to-back client: ${successes.length} renewals, ${hotFailures.length} failed calls; longest gap between ` +
        `successes around the kill ${fmt(outage, 1)} ms beyond the ${PACING_MS} ms pacing (median gap ${fmt(pct(gaps, 50), 1)} ms)`,
    );
    for (const client of [...clients, hot]) await client.close();
    return {
      lost: counts.lost,
      degraded: counts.degraded,
      outage,
      totalFailedMs,
      hotFailures: hotFailures.length,
    };
  }

  try {
    const verify = await benchVerification();
    log();
    const fake = await startFakeServer();
    let light;
    try {
      light = await benchRenewalCpu(
        '2a. client CPU per renewal against a light server process (FakeCluster over HTTP), back to back',
        [fake.url],
        fake.token,
        fake.vendorKeys,
      );
    } finally {
      fake.stop();
    }
    log();
    const tokens = await startCluster();
    const cpu = await benchRenewalCpu(
      '2b. client CPU per renewal against the real 3-node cluster on etcd (same 2 vCPUs), back to back',
      cluster.urls(),
      tokens['lic-bench-long'],
      clusterVendorKeys,
    );
    log();
    const kill = await benchSigkill(tokens['lic-bench']);
    log();
    const verdict = (ok) => (ok ? 'ok' : 'MISS');
    log('targets');
    log(
      `  verification >= 10,000/s on one core: distinct tokens ${fmt(verify.distinct)}/s ${verdict(verify.distinct >= 10_000)}; repeated token ${fmt(verify.same)}/s ${verdict(verify.same >= 10_000)}`,
    );
    for (const [where, r] of [
      ['light server', light],
      ['real cluster', cpu],
    ]) {
      log(
        `  client CPU per renewal < 1 ms (${where}): on the global fetch ${fmt(r.sdkFetch.cpu)} µs ${verdict(r.sdkFetch.cpu < 1000)}; ` +
          `on nodeFetch ${fmt(r.sdkNode.cpu)} µs ${verdict(r.sdkNode.cpu < 1000)} (a bare fetch alone: ${fmt(r.raw.cpu)} µs)`,
      );
    }
    log(
      `  SIGKILL: zero lost leases: ${kill.lost} ${verdict(kill.lost === 0)}; <= 1 s of failed calls: ${fmt(kill.outage, 1)} ms outage, ${fmt(kill.totalFailedMs, 1)} ms in failed attempts ${verdict(kill.outage <= 1000 && kill.totalFailedMs <= 1000)}`,
    );
    const file = saveResults(verify, light, cpu, kill);
    log(`\nresults: ${file}\nreport:  ${renderReport()}`);
  } finally {
    await cleanup();
  }
}

/** bench/results/client.json: verification as a ratio to Node's bare Ed25519 verify, CPU per renewal as a
 * ratio to a bare fetch (the floor the transport sets), the SIGKILL phase as measured. */
function saveResults(verification, light, cpu, kill) {
  const loop = 'in-process loop, one core (no load generator)';
  const rate = (key, label, value) => ({
    key,
    label,
    unit: '/s',
    better: 'higher',
    generator: loop,
    value,
    ceiling: { label: 'node:crypto verify', value: verification.raw },
    ratio: value / verification.raw,
  });
  const cpuFigure = (key, label, r, raw, where) => ({
    key,
    label: `${label} (${where})`,
    unit: 'µs',
    better: 'lower',
    generator: `${RENEWALS} sequential renewals from the bench process`,
    value: r.cpu,
    ceiling: { label: 'bare fetch + JSON.parse', value: raw.cpu },
    ratio: r.cpu / raw.cpu,
  });
  const figures = [
    {
      ...rate('verifyRaw', 'node:crypto Ed25519 verify alone', verification.raw),
      ceiling: undefined,
      ratio: undefined,
    },
    rate('verifyDistinct', 'SDK verifyLeaseToken, distinct tokens (node:crypto)', verification.distinct),
    rate('verifyJose', 'SDK verify, distinct tokens (jose over WebCrypto)', verification.jose),
    rate('verifySame', 'SDK verify, one token again (memoized signature)', verification.same),
    cpuFigure(
      'cpuLightFetch',
      'client CPU per renewal, SDK on global fetch',
      light.sdkFetch,
      light.raw,
      'light server',
    ),
    cpuFigure(
      'cpuLightNode',
      'client CPU per renewal, SDK on nodeFetch',
      light.sdkNode,
      light.raw,
      'light server',
    ),
    cpuFigure(
      'cpuClusterFetch',
      'client CPU per renewal, SDK on global fetch',
      cpu.sdkFetch,
      cpu.raw,
      '3-node cluster',
    ),
    cpuFigure(
      'cpuClusterNode',
      'client CPU per renewal, SDK on nodeFetch',
      cpu.sdkNode,
      cpu.raw,
      '3-node cluster',
    ),
    {
      key: 'sigkillOutage',
      label: 'back-to-back client outage, node SIGKILL',
      unit: 'ms',
      better: 'lower',
      generator: `${CLIENTS} SDK clients x ${LEASES} leases + 1 back-to-back client`,
      value: kill.outage,
      note: `lost leases ${kill.lost}; no measured ceiling`,
    },
  ];
  return writeResults('client', {
    title: 'Client SDK (bench/client.mjs)',
    command: commandLine('npm run bench:client', [
      'BENCH_VERIFY_MS',
      'BENCH_RENEWALS',
      'BENCH_CLIENTS',
      'BENCH_LEASES',
      'BENCH_OBSERVE_MS',
    ]),
    settings: {
      verifyMs: VERIFY_MS,
      renewals: RENEWALS,
      clients: CLIENTS,
      leases: LEASES,
      observeMs: OBSERVE_MS,
    },
    figures,
    targets: [
      {
        id: 'client.verify',
        label: 'SDK verification >= 10,000/s on one core (distinct tokens)',
        measured: `${Math.round(verification.distinct).toLocaleString('en-US')}/s (node:crypto verify alone ${Math.round(verification.raw).toLocaleString('en-US')}/s)`,
        pass: verification.distinct >= 10_000,
      },
      {
        id: 'client.cpu',
        label: 'client CPU per renewal < 1 ms (3-node cluster, global fetch)',
        measured: `${Math.round(cpu.sdkFetch.cpu).toLocaleString('en-US')} µs (bare fetch ${Math.round(cpu.raw.cpu).toLocaleString('en-US')} µs)`,
        pass: cpu.sdkFetch.cpu < 1000,
      },
      {
        id: 'client.lost',
        label: 'zero lost leases when a node is SIGKILLed',
        measured: String(kill.lost),
        pass: kill.lost === 0,
      },
    ],
    notes: [],
  });
}
