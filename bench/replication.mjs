// Replication benchmark (issue 12, "Benchmark"): on loopback, with real node processes,
//   1. replication lag p50/p99 of one replica (`leasehold serve --replica-of`) at a steady, open-loop rate of
//      lease changes (checkouts, renewals, check-ins) at an embedded primary: per change, the time from its
//      acknowledgement at the primary to the replica reporting a position at or past the change's revision;
//   2. catch-up rate: the replica stopped, BENCH_REPL_CATCHUP_CHANGES changes made at the primary (batch
//      renewals), the replica started again: changes applied / time until it reports the primary's head.
//      Through the feed (retention above the backlog), and through 410 + snapshot (a second primary whose
//      retention is below it);
//   3. edge checkout throughput: wrk checkout-checkin cycles against an edge site (`--edge-of`, a seat block
//      covering the load) and against a fresh embedded node, interleaved: the edge's rate as a ratio.
// bench/README.md ("Replication benchmark") says what each figure is and is not.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeVendor, pollUntil, startVendorCluster } from '@leasehold/devtools';
import {
  ADMIN_TOKEN,
  api,
  expectStatus,
  installCleanup,
  installLicense,
  intEnv,
  problemsOf,
  removeOnExit,
  runMain,
  startLeasehold,
  stopNode,
  syncMode,
} from './lib/embedded-node.mjs';
import { commandLine, median, writeResults } from './lib/results.mjs';
import { requireWrk, runWrk } from './lib/wrk.mjs';
import { renderReport } from './report.mjs';

const SETTINGS = {
  rate: intEnv('BENCH_REPL_RATE', 500, 1),
  lagSeconds: intEnv('BENCH_REPL_DURATION', 30, 1),
  lagWarmupSeconds: intEnv('BENCH_REPL_WARMUP', 2, 0),
  pollMs: intEnv('BENCH_REPL_POLL_MS', 2, 1),
  catchupChanges: intEnv('BENCH_REPL_CATCHUP_CHANGES', 100_000, 1),
  snapshotCase: intEnv('BENCH_REPL_SNAPSHOT', 1, 0) === 1,
  /** Which parts run: lag, catchup (via the feed; the snapshot case with it), edge. */
  parts: new Set((process.env.BENCH_REPL_PARTS ?? 'lag,catchup,edge').split(',')),
  /** embedded (SQLite) or etcd: one node over a 3-member etcd cluster (lag and the feed catch-up only). */
  primary: process.env.BENCH_REPL_PRIMARY ?? 'embedded',
  runs: intEnv('BENCH_RUNS', 3, 1),
  duration: intEnv('BENCH_DURATION', 5, 1),
  warmup: intEnv('BENCH_WARMUP', 2, 0),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  wrkThreads: intEnv('BENCH_WRK_THREADS', 2, 1),
  edgeBlock: intEnv('BENCH_EDGE_BLOCK', 500, 1),
  synchronous: syncMode(),
};
// Leases held while the lag is measured (renewals and check-ins pick from them) and before the catch-up
// (its batch renewals cycle over them).
const HELD = 1000;
const RENEW_BATCH = 100;
const SEATS = 1_000_000;

const admin = (node, method, path, body) => api(node, method, path, ADMIN_TOKEN, body);

/** The primary's newest revision (a feed page asked without waiting; below its history, from `oldest`). */
async function headOf(node, after = -1) {
  for (let from = after, tries = 0; tries < 3; tries++) {
    const res = await admin(node, 'GET', `/v1/replication/changes?after=${from}&limit=1&wait=0ms`);
    if (res.status === 200) return res.body.head;
    if (res.status === 410 && Number.isInteger(res.body?.oldest)) from = res.body.oldest;
    else throw new Error(`feed head: ${res.status} ${JSON.stringify(res.body)}`);
  }
  throw new Error('feed head: the history moved three times in a row');
}

/** Started nodes answer /healthz before they have loaded their keys; writes wait for /readyz. */
async function ready(node) {
  await pollUntil(
    () =>
      fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (res) => res.status === 200,
        () => false,
      ),
    { what: `${node.name} to be ready`, timeoutMs: 30_000, intervalMs: 50 },
  );
  return node;
}

async function replicaView(replica) {
  const res = await fetch(`${replica.url}/v1/cluster`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new Error(`replica /v1/cluster: ${res.status} ${await res.text()}`);
  return (await res.json()).replica;
}

async function waitCaughtUp(replica, head, what, timeoutMs = 60_000, intervalMs = 20) {
  return pollUntil(
    async (_left, note) => {
      const view = await replicaView(replica).catch((err) => ({ position: -1, error: String(err) }));
      note(JSON.stringify(view));
      return view.position >= head ? view : false;
    },
    { what, timeoutMs, intervalMs },
  );
}

async function withReplicaToken(node, vendor, name, vendorKey, stop) {
  const license = await installLicense(node, vendor, `lic-${name}`, ['lag', 'edge'], { seats: SEATS });
  const replicaToken = await expectStatus(
    admin(node, 'POST', '/v1/tokens', { scope: 'replica', name: `${name}-replica` }),
    201,
    'replica token',
  );
  return { node, license, replicaToken: replicaToken.token, vendorKey, stop };
}

/** A primary (embedded, SQLite) with a license of SEATS seats and a replica token. */
async function startPrimary(name, dir, vendorKey, vendor, retention) {
  const node = await startLeasehold(name, join(dir, name), vendorKey, SETTINGS.synchronous, {
    env: { LEASEHOLD_FEED_RETENTION: String(retention) },
  });
  await ready(node);
  return withReplicaToken(node, vendor, name, vendorKey, () => stopNode(node));
}

/** One node over a 3-member etcd cluster (devtools' dev cluster, its own vendor), same license and token. */
async function startEtcdPrimary(name, dir) {
  const { cluster, vendor } = await startVendorCluster(join(dir, name), {
    nodes: 1,
    etcdMembers: 3,
    adminToken: ADMIN_TOKEN,
    nodeEnv: { LEASEHOLD_LEASE_RATE_LIMIT_PER_MINUTE: '1000000000', LEASEHOLD_LOG_LEVEL: 'warn' },
  });
  const [node] = cluster.nodes;
  await ready(node);
  const vendorKey = vendor.writePublicKey(join(dir, name));
  return withReplicaToken(node, vendor, name, vendorKey, () => cluster.stop());
}

function startReplica(name, dir, primary) {
  return startLeasehold(name, join(dir, name), primary.vendorKey, SETTINGS.synchronous, {
    env: { LEASEHOLD_REPLICA_OF: primary.node.url, LEASEHOLD_UPSTREAM_TOKEN: primary.replicaToken },
  });
}

async function checkout(node, feature) {
  const res = await admin(node, 'POST', '/v1/leases', {
    feature,
    client: { id: `bench-${randomUUID()}`, host: 'bench' },
    requestId: randomUUID(),
  });
  if (res.status !== 201) throw new Error(`checkout: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Checks out until `held` holds `count` leases, `concurrency` in flight. */
async function fill(node, held, count, concurrency = 16) {
  const worker = async () => {
    while (held.length < count) {
      held.push({ id: await checkout(node, 'lag'), busy: false });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// 1. Lag ---------------------------------------------------------------------------------------------

/**
 * Open loop: change i is sent at start + i / rate whatever happened to the earlier ones (a late answer
 * does not delay the schedule). The kinds rotate checkout, renewal, check-in over the held leases, so
 * their number stays about constant; a renewal or check-in takes a lease with nothing in flight, so the
 * changes of one lease reach the primary in the order they were sent.
 */
async function driveChanges(node, held, seconds) {
  const total = SETTINGS.rate * seconds;
  const intervalMs = 1000 / SETTINGS.rate;
  const ops = [];
  const inFlight = new Set();
  const start = performance.now();
  let i = 0;
  const send = (kind, lease) => {
    const op = { kind, lease: lease?.id, sentAt: performance.now(), scheduledAt: start + i * intervalMs };
    ops.push(op);
    if (lease) lease.busy = true;
    const path =
      kind === 'checkout'
        ? '/v1/leases'
        : kind === 'renew'
          ? `/v1/leases/${lease.id}/renew`
          : `/v1/leases/${lease.id}`;
    const body =
      kind === 'checkout'
        ? { feature: 'lag', client: { id: `bench-${randomUUID()}`, host: 'bench' }, requestId: randomUUID() }
        : undefined;
    const call = admin(node, kind === 'checkin' ? 'DELETE' : 'POST', path, body).then(
      (res) => {
        op.ackAt = performance.now();
        op.status = res.status;
        if (kind === 'checkout' && res.status === 201) {
          op.lease = res.body.id;
          held.push({ id: res.body.id, busy: false });
        } else if (kind === 'renew' && lease) lease.busy = false;
      },
      (err) => {
        op.error = String(err);
        if (lease && kind === 'renew') lease.busy = false;
      },
    );
    inFlight.add(call);
    call.finally(() => inFlight.delete(call));
  };
  const idle = (fromOldest) => {
    if (fromOldest) {
      const at = held.findIndex((l) => !l.busy);
      return at < 0 ? undefined : held.splice(at, 1)[0];
    }
    for (let tries = 0; tries < 8; tries++) {
      const lease = held[Math.floor(Math.random() * held.length)];
      if (lease && !lease.busy) return lease;
    }
    return undefined;
  };
  while (i < total) {
    const now = performance.now();
    while (i < total && start + i * intervalMs <= now) {
      if (inFlight.size > 5000) throw new Error('more than 5,000 changes in flight: the primary fell behind');
      const step = i % 3;
      const lease = step === 0 ? undefined : idle(step === 2);
      if (step === 0 || !lease) send('checkout');
      else send(step === 1 ? 'renew' : 'checkin', lease);
      i++;
    }
    await sleep(1);
  }
  await Promise.race([Promise.all(inFlight), sleep(30_000)]);
  return { ops, start, seconds: (performance.now() - start) / 1000 };
}

/** Samples the replica's position as fast as `pollMs` allows (one request at a time) until stopped. */
function pollPositions(replica) {
  const samples = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const sentAt = performance.now();
      const view = await replicaView(replica).catch(() => undefined);
      if (view) samples.push({ at: performance.now(), position: view.position });
      const left = sentAt + SETTINGS.pollMs - performance.now();
      if (left > 0) await sleep(left);
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await done;
    },
  };
}

/** Every lease change in the primary's feed after `after`, as lease id -> revisions in order. */
async function leaseRevisions(node, after, head) {
  const byLease = new Map();
  let from = after;
  for (let pages = 0; from < head && pages < 1000; pages++) {
    const page = await expectStatus(
      admin(node, 'GET', `/v1/replication/changes?after=${from}&limit=10000&wait=0ms`),
      200,
      'feed page',
    );
    for (const c of page.changes) {
      const kind = c.op === 'put' ? c.record.kind : c.kind;
      if (kind !== 'lease') continue;
      const id = c.op === 'put' ? c.record.id : c.id;
      if (!byLease.has(id)) byLease.set(id, []);
      byLease.get(id).push(c.rev);
    }
    from = page.through;
  }
  return byLease;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measureLag(primary, replica, held) {
  const before = await headOf(primary.node);
  await waitCaughtUp(replica, before, 'the replica to catch up before the lag run');
  const poller = pollPositions(replica);
  const driven = await driveChanges(primary.node, held, SETTINGS.lagSeconds + SETTINGS.lagWarmupSeconds);
  const after = await headOf(primary.node, before);
  await waitCaughtUp(replica, after, 'the replica to catch up after the lag run', 30_000, SETTINGS.pollMs);
  await poller.stop();
  const revisions = await leaseRevisions(primary.node, before, after);
  // The k-th acknowledged change of a lease is its k-th change in the feed (its changes were sequential).
  const nth = new Map();
  const lags = [];
  let unmatched = 0;
  let failed = 0;
  const measuredFrom = driven.start + SETTINGS.lagWarmupSeconds * 1000;
  const acked = driven.ops.filter((op) => op.ackAt !== undefined && op.status >= 200 && op.status < 300);
  failed = driven.ops.length - acked.length;
  const failures = {};
  for (const op of driven.ops) {
    if (op.ackAt !== undefined && op.status >= 200 && op.status < 300) continue;
    const why = `${op.kind}:${op.status ?? op.error?.slice(0, 80) ?? 'unanswered'}`;
    failures[why] = (failures[why] ?? 0) + 1;
  }
  acked.sort((a, b) => a.ackAt - b.ackAt);
  const { samples } = poller;
  let cursor = 0;
  const visibleAt = (rev) => {
    // Samples are in time order with non-decreasing positions: the first at or past `rev`.
    let lo = 0;
    let hi = samples.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (samples[mid].position >= rev) hi = mid;
      else lo = mid + 1;
    }
    return samples[lo]?.at;
  };
  for (const op of acked) {
    const k = nth.get(op.lease) ?? 0;
    nth.set(op.lease, k + 1);
    const rev = revisions.get(op.lease)?.[k];
    if (rev === undefined) {
      unmatched++;
      continue;
    }
    if (op.sentAt < measuredFrom) continue;
    const seen = visibleAt(rev);
    if (seen === undefined) {
      unmatched++;
      continue;
    }
    lags.push(seen - op.ackAt);
    cursor++;
  }
  lags.sort((a, b) => a - b);
  const sendDelays = driven.ops.map((op) => op.sentAt - op.scheduledAt).sort((a, b) => a - b);
  const ackLatencies = acked.map((op) => op.ackAt - op.sentAt).sort((a, b) => a - b);
  const gaps = samples
    .slice(1)
    .map((s, j) => s.at - samples[j].at)
    .sort((a, b) => a - b);
  return {
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: lags.at(-1),
    measured: cursor,
    sent: driven.ops.length,
    failed,
    failures,
    unmatched,
    achievedRate: acked.length / driven.seconds,
    ackP99: percentile(ackLatencies, 99),
    sendDelayP99: percentile(sendDelays, 99),
    pollGapP50: percentile(gaps, 50),
    pollGapP99: percentile(gaps, 99),
  };
}

// 2. Catch-up ----------------------------------------------------------------------------------------

/** At least `count` changes at the primary: batch renewals of the held leases, 4 calls in flight. */
async function makeChanges(node, held, count) {
  let made = 0;
  let next = 0;
  const worker = async () => {
    while (made < count) {
      const batch = [];
      for (let j = 0; j < RENEW_BATCH; j++) batch.push({ id: held[(next + j) % held.length].id });
      next = (next + RENEW_BATCH) % held.length;
      made += RENEW_BATCH;
      const body = await expectStatus(
        admin(node, 'POST', '/v1/leases/renew', { leases: batch }),
        200,
        'renew',
      );
      const bad = body.results.filter((r) => r.problem);
      if (bad.length > 0) throw new Error(`batch renewal: ${JSON.stringify(bad[0].problem)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return made;
}

async function measureCatchup(primary, replica, held, via) {
  await fill(primary.node, held, HELD);
  const before = await headOf(primary.node);
  await waitCaughtUp(replica, before, `the replica to catch up before stopping (${via})`);
  await replica.kill('SIGKILL');
  const genStart = performance.now();
  const made = await makeChanges(primary.node, held, SETTINGS.catchupChanges);
  const genSeconds = (performance.now() - genStart) / 1000;
  const head = await headOf(primary.node, before);
  const t0 = performance.now();
  await replica.start();
  const listening = performance.now();
  const view = await waitCaughtUp(replica, head, `the replica to catch up (${via})`, 300_000, 20);
  const done = performance.now();
  const seconds = (done - t0) / 1000;
  return {
    via,
    made,
    genRate: made / genSeconds,
    applied: view.appliedChanges,
    reloads: view.snapshotReloads,
    seconds,
    startSeconds: (listening - t0) / 1000,
    rate: made / seconds,
    rateAfterStart: made / ((done - listening) / 1000),
  };
}

// 3. Edge throughput -----------------------------------------------------------------------------------

async function startEdge(name, dir, vendorKey, primary) {
  const edge = await startLeasehold(name, join(dir, name), vendorKey, SETTINGS.synchronous, {
    args: [
      '--edge-of',
      primary.node.url,
      '--upstream-token',
      primary.license.token,
      '--seat-block',
      `${primary.license.lid}:edge=${SETTINGS.edgeBlock}`,
    ],
  });
  await ready(edge);
  // Ready once a client of the license checks a seat out there (block held, license and token copied).
  await pollUntil(
    async (_left, note) => {
      const res = await api(edge, 'POST', '/v1/leases', primary.license.token, {
        feature: 'edge',
        client: { id: 'probe', host: 'bench' },
        requestId: randomUUID(),
      });
      note(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      if (res.status !== 201) return false;
      await api(edge, 'DELETE', `/v1/leases/${res.body.id}?client=probe`, primary.license.token);
      return true;
    },
    { what: 'the edge to grant a seat of its block', timeoutMs: 30_000, intervalMs: 200 },
  );
  return edge;
}

function cycles(node, token, duration) {
  return runWrk({
    url: node.url,
    script: 'checkout-release.lua',
    args: ['/v1/leases', '/v1/leases/', token, 'edge', randomUUID().slice(0, 8)],
    duration,
    connections: SETTINGS.connections,
    threads: SETTINGS.wrkThreads,
  });
}

// ------------------------------------------------------------------------------------------------------

async function main() {
  installCleanup();
  const wrkVersion = requireWrk();
  const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'leasehold-bench-repl-')));
  mkdirSync(dir, { recursive: true });
  const vendor = await makeVendor(Date.now());
  const vendorKey = vendor.writePublicKey(dir);
  process.stdout.write(
    `replication benchmark: ${SETTINGS.runs} run(s); lag at ${SETTINGS.rate} changes/s for ${SETTINGS.lagSeconds} s ` +
      `(+${SETTINGS.lagWarmupSeconds} s warm-up), catch-up of ${SETTINGS.catchupChanges} changes, edge vs embedded ` +
      `wrk ${SETTINGS.duration} s x${SETTINGS.runs}, -c${SETTINGS.connections}; SQLite ${SETTINGS.synchronous}, wrk ${wrkVersion}\n`,
  );

  const rounds = [];
  for (let run = 1; run <= SETTINGS.runs; run++) {
    const round = { run };
    // Feed retention above everything this round writes: the catch-up goes through the feed.
    const feedRetention = SETTINGS.catchupChanges + SETTINGS.rate * (SETTINGS.lagSeconds + 10) + 50_000;
    const etcd = SETTINGS.primary === 'etcd';
    const primary = etcd
      ? await startEtcdPrimary(`etcd-primary-${run}`, dir)
      : await startPrimary(`primary-${run}`, dir, vendorKey, vendor, feedRetention);
    try {
      const replica = await startReplica(`replica-${run}`, dir, primary);
      const held = [];
      await fill(primary.node, held, 300);

      if (SETTINGS.parts.has('lag')) {
        round.lag = await measureLag(primary, replica, held);
        const l = round.lag;
        process.stdout.write(
          `run ${run} lag: p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms over ${l.measured} changes ` +
            `(${l.achievedRate.toFixed(0)}/s acknowledged, ${l.failed} failed ${JSON.stringify(l.failures)}, ${l.unmatched} unmatched; primary ack p99 ${l.ackP99.toFixed(1)} ms, ` +
            `send delay p99 ${l.sendDelayP99.toFixed(1)} ms, replica poll gap p50/p99 ${l.pollGapP50.toFixed(1)}/${l.pollGapP99.toFixed(1)} ms)\n`,
        );
      }
      if (SETTINGS.parts.has('catchup')) {
        round.feed = await measureCatchup(primary, replica, held, 'feed');
        const f = round.feed;
        process.stdout.write(
          `run ${run} catch-up via feed: ${f.made} changes in ${f.seconds.toFixed(2)} s from spawn = ${f.rate.toFixed(0)}/s ` +
            `(${f.rateAfterStart.toFixed(0)}/s after the ${f.startSeconds.toFixed(2)} s start; applied ${f.applied}, reloads ${f.reloads}; ` +
            `made at ${f.genRate.toFixed(0)}/s)\n`,
        );
      }
      await stopNode(replica);

      if (SETTINGS.parts.has('catchup') && SETTINGS.snapshotCase && !etcd) {
        // Retention a tenth of the backlog: the restarted replica is answered 410 and reloads the snapshot.
        const small = Math.max(10, Math.floor(SETTINGS.catchupChanges / 10));
        const p2 = await startPrimary(`primary-snap-${run}`, dir, vendorKey, vendor, small);
        const r2 = await startReplica(`replica-snap-${run}`, dir, p2);
        const held2 = [];
        round.snapshot = await measureCatchup(p2, r2, held2, 'snapshot');
        const s = round.snapshot;
        process.stdout.write(
          `run ${run} catch-up via 410 + snapshot (retention ${small}): ${s.made} changes behind, caught up in ${s.seconds.toFixed(2)} s ` +
            `from spawn = ${s.rate.toFixed(0)}/s (the node answered /healthz after ${s.startSeconds.toFixed(2)} s; ` +
            `snapshot of ${s.applied} records, reloads ${s.reloads})\n`,
        );
        await stopNode(r2);
        await p2.stop();
      }

      // Edge vs a fresh embedded node, the same wrk load; the edge's primary is this round's primary.
      if (SETTINGS.parts.has('edge') && !etcd) {
        const edge = await startEdge(`edge-${run}`, dir, vendorKey, primary);
        const embedded = await ready(
          await startLeasehold(
            `embedded-${run}`,
            join(dir, `embedded-${run}`),
            vendorKey,
            SETTINGS.synchronous,
          ),
        );
        const local = await installLicense(embedded, vendor, `lic-embedded-${run}`, ['edge'], {
          seats: SEATS,
        });
        if (SETTINGS.warmup > 0) {
          await cycles(embedded, local.token, SETTINGS.warmup);
          await cycles(edge, primary.license.token, SETTINGS.warmup);
        }
        const base = await cycles(embedded, local.token, SETTINGS.duration);
        const atEdge = await cycles(edge, primary.license.token, SETTINGS.duration);
        round.edge = { embedded: base, edge: atEdge, ratio: atEdge.rate / base.rate };
        process.stdout.write(
          `run ${run} edge: ${atEdge.rate.toFixed(0)}/s (p99 ${atEdge.p99.toFixed(1)} ms, ${atEdge.released} check-ins, ${atEdge.non2xx} non-2xx) vs embedded ` +
            `${base.rate.toFixed(0)}/s (p99 ${base.p99.toFixed(1)} ms, ${base.released} check-ins, ${base.non2xx} non-2xx): ` +
            `${(round.edge.ratio * 100).toFixed(1)}% (target >= 90%)\n`,
        );
        for (const n of [primary.node, edge, embedded]) {
          const problems = problemsOf(n);
          if (problems.length > 0) round.problems = [...(round.problems ?? []), ...problems.slice(0, 3)];
        }
        await stopNode(edge);
        await stopNode(embedded);
      }
    } finally {
      await primary.stop();
    }
    rounds.push(round);
  }

  const col = (fn) => rounds.map(fn).filter((v) => v !== undefined && Number.isFinite(v));
  const p99s = col((r) => r.lag?.p99);
  const p50s = col((r) => r.lag?.p50);
  const feedRates = col((r) => r.feed?.rate);
  const snapRates = col((r) => r.snapshot?.rate);
  const edgeRates = col((r) => r.edge?.edge.rate);
  const baseRates = col((r) => r.edge?.embedded.rate);
  const ratios = col((r) => r.edge?.ratio);
  const lagNote = `${SETTINGS.rate}/s open loop`;
  const figures = [
    {
      key: 'lag-p99',
      label: `replication lag p99 at ${SETTINGS.rate} changes/s`,
      unit: 'ms',
      better: 'lower',
      value: median(p99s),
      runs: p99s,
      generator: `own loop (fetch, ${lagNote})`,
      ceiling: { label: 'target 200 ms', value: 200 },
      ratio: median(p99s) / 200,
      targetRatio: 1,
    },
    {
      key: 'lag-p50',
      label: `replication lag p50 at ${SETTINGS.rate} changes/s`,
      unit: 'ms',
      better: 'lower',
      value: median(p50s),
      runs: p50s,
      generator: `own loop (fetch, ${lagNote})`,
    },
    {
      key: 'catchup-feed',
      label: `catch-up of ${SETTINGS.catchupChanges.toLocaleString('en-US')} changes via the feed (from spawn)`,
      unit: '/s',
      better: 'higher',
      value: median(feedRates),
      runs: feedRates,
      generator: 'own loop (batch renewals, 4 in flight)',
      note: `seconds: ${rounds.map((r) => r.feed?.seconds.toFixed(2)).join(', ')}`,
    },
    ...(snapRates.length > 0
      ? [
          {
            key: 'catchup-snapshot',
            label: `catch-up of ${SETTINGS.catchupChanges.toLocaleString('en-US')} changes via 410 + snapshot (from spawn)`,
            unit: '/s',
            better: 'higher',
            value: median(snapRates),
            runs: snapRates,
            generator: 'own loop (batch renewals, 4 in flight)',
            note: `seconds: ${rounds.map((r) => r.snapshot?.seconds.toFixed(2)).join(', ')}`,
          },
        ]
      : []),
    {
      key: 'edge-checkouts',
      label: 'edge checkouts (checkout-checkin cycles)',
      unit: '/s',
      better: 'higher',
      value: median(edgeRates),
      runs: edgeRates,
      generator: 'wrk',
      ceiling: { label: 'embedded node', value: median(baseRates), runs: baseRates },
      ratio: median(ratios),
      ratioRuns: ratios,
      targetRatio: 0.9,
    },
  ];
  const measuredFigures = figures.filter((f) => f.runs.length > 0);
  const targets = [
    p99s.length > 0 && {
      id: 'replication.lagP99',
      label: `Replication lag p99 < 200 ms at 500 changes/s (issue 12)`,
      measured: `p99 ${median(p99s).toFixed(1)} ms, p50 ${median(p50s).toFixed(1)} ms (${p99s.map((v) => v.toFixed(1)).join(', ')})`,
      pass: SETTINGS.rate >= 500 ? median(p99s) < 200 : null,
    },
    feedRates.length > 0 && {
      id: 'replication.catchup',
      label: 'Catch-up rate of a replica down for 100,000 changes (issue 12; no target)',
      measured: `feed ${Math.round(median(feedRates))}/s${snapRates.length ? `, snapshot ${Math.round(median(snapRates))}/s` : ''}`,
      pass: null,
    },
    ratios.length > 0 && {
      id: 'replication.edgeRatio',
      label: "Edge checkout throughput >= 90% of an embedded node's (issue 12)",
      measured: `${(median(ratios) * 100).toFixed(1)}% (${ratios.map((r) => `${(r * 100).toFixed(1)}%`).join(', ')})`,
      pass: median(ratios) >= 0.9,
    },
  ].filter(Boolean);
  const notes = [
    "Lag: per acknowledged change (checkout, renewal or check-in at the primary, admin token, sent open loop on a fixed schedule), the time from its answer reaching the benchmark to the first sample of the replica's `GET /v1/cluster` `replica.position` at or past the revision the change has in the primary's feed (read after the run; the k-th change of a lease is its k-th feed entry). Samples are taken one at a time, at most every BENCH_REPL_POLL_MS; the figure includes up to one poll round trip.",
    `Catch-up: the replica SIGKILLed, ${SETTINGS.catchupChanges} lease changes made at the primary (batch renewals of ${HELD} leases, ${RENEW_BATCH} per call), the replica started again; the time from its spawn until \`/v1/cluster\` shows a position at the primary's head (polled every 20 ms). Via the feed: retention above the backlog. Via the snapshot: a second primary with retention ${Math.floor(SETTINGS.catchupChanges / 10)}, so the replica is answered 410 and reloads.`,
    "Edge: wrk checkout-checkin cycles (bench/wrk/checkout-release.lua, client token) against an edge site holding a block of the load's feature and against a fresh embedded node, one run each per round, embedded first. The edge's primary runs meanwhile (it receives the edge's audit uploads every second).",
    ...rounds.flatMap((r) => (r.problems ?? []).map((p) => `run ${r.run} node warning: ${p.slice(0, 300)}`)),
  ];
  const etcdPrimary = SETTINGS.primary === 'etcd';
  const file = writeResults(etcdPrimary ? 'replication-etcd' : 'replication', {
    title: etcdPrimary
      ? 'Replication, etcd primary: 1 node on 3 members (issue 12)'
      : 'Replication (issue 12)',
    command: commandLine('npm run bench:replication', [
      'BENCH_REPL_RATE',
      'BENCH_REPL_DURATION',
      'BENCH_REPL_WARMUP',
      'BENCH_REPL_POLL_MS',
      'BENCH_REPL_CATCHUP_CHANGES',
      'BENCH_REPL_SNAPSHOT',
      'BENCH_REPL_PRIMARY',
      'BENCH_REPL_PARTS',
      'BENCH_RUNS',
      'BENCH_DURATION',
      'BENCH_WARMUP',
      'BENCH_CONNECTIONS',
      'BENCH_EDGE_BLOCK',
      'SQLITE_SYNCHRONOUS',
    ]),
    settings: { ...SETTINGS, wrk: wrkVersion },
    figures: measuredFigures,
    targets,
    notes,
  });
  process.stdout.write(
    `\nmedians of ${rounds.length} run(s):\n` +
      `  lag p99 ${median(p99s).toFixed(1)} ms = ${((median(p99s) / 200) * 100).toFixed(1)}% of the 200 ms target (p50 ${median(p50s).toFixed(1)} ms)\n` +
      `  catch-up via feed ${Math.round(median(feedRates))} changes/s` +
      (snapRates.length ? `, via snapshot ${Math.round(median(snapRates))} changes/s\n` : '\n') +
      `  edge checkouts ${Math.round(median(edgeRates))}/s vs embedded ${Math.round(median(baseRates))}/s: ` +
      `${(median(ratios) * 100).toFixed(1)}% = ${((median(ratios) / 0.9) * 100).toFixed(1)}% of the 90% target\n` +
      `wrote ${file} and ${renderReport()}\n`,
  );
}

runMain(main);
