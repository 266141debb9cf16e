// Where the CPU of one bench:ha load phase went, per operation (bench/README.md, "Where the CPU goes"):
// CPU time of each process of the run from /proc/<pid>/stat (the bench process itself — autocannon and the
// raw etcd3 loops run in it —, each etcd member, each node), the machine's busy time from /proc/stat (the
// rest is other work on the machine), and etcd's own counters from each member's /metrics (Raft
// proposals committed, WAL fsyncs, Txn and Range calls). With BENCH_HA_PROBE, also what each node's
// preload (node-probe.cjs) recorded: its etcd transactions by size, and optionally a CPU profile.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK_MS = 10; // Linux USER_HZ (getconf CLK_TCK = 100)

/** CPU ms (user + system) the process has used, NaN when it is gone. */
function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

/** The whole machine's busy CPU ms (every core; not idle, not iowait). */
function machineBusyMs() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - ticks[3] - ticks[4]) * TICK_MS;
}

const COUNTERS = {
  proposals: /^etcd_server_proposals_committed_total (\S+)/m,
  fsyncs: /^etcd_disk_wal_fsync_duration_seconds_count (\S+)/m,
};

/** Sums of one member's counters we report (Txn and Range calls over every gRPC code). */
async function memberCounters(url) {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const out = {};
    for (const [name, re] of Object.entries(COUNTERS)) out[name] = Number(re.exec(text)?.[1] ?? Number.NaN);
    for (const method of ['Txn', 'Range']) {
      const re = new RegExp(`^grpc_server_handled_total\\{[^}]*grpc_method="${method}"[^}]*\\} (\\S+)`, 'gm');
      out[method] = [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
    }
    return out;
  } catch {
    return undefined;
  }
}

export class PhaseMeter {
  /**
   * @param cluster the DevCluster (its nodes' and members' pids and etcd client URLs are read each phase)
   * @param probeDir where node-probe.cjs writes, or undefined without BENCH_HA_PROBE
   */
  constructor(cluster, probeDir) {
    this.cluster = cluster;
    this.probeDir = probeDir;
    this.phases = [];
  }

  #pids() {
    return {
      bench: [process.pid],
      etcd: this.cluster.etcd.members.map((m) => m.pid).filter((p) => p !== undefined),
      nodes: this.cluster.nodes.map((n) => n.pid).filter((p) => p !== undefined),
    };
  }

  async begin() {
    const pids = this.#pids();
    // etcd's counters first: their scrape is not part of the phase's CPU.
    const etcd = await Promise.all(this.cluster.etcd.clientUrls().map(memberCounters));
    const cpu = Object.fromEntries(Object.entries(pids).map(([g, list]) => [g, list.map(processCpuMs)]));
    return { pids, cpu, etcd, busy: machineBusyMs(), at: performance.now() };
  }

  /** Ends a phase begun with `begin()` that completed `ops` operations; prints and keeps its figures. */
  async end(start, phase, ops, log) {
    const wallMs = performance.now() - start.at;
    const busy = machineBusyMs() - start.busy;
    const perGroup = {};
    let ours = 0;
    for (const [group, list] of Object.entries(start.pids)) {
      const used = list.map((pid, i) => processCpuMs(pid) - start.cpu[group][i]);
      perGroup[group] = used;
      ours += used.filter(Number.isFinite).reduce((a, b) => a + b, 0);
    }
    // Measured above, before this scrape (and the nodes' probe files) cost anything.
    const etcdNow = await Promise.all(this.cluster.etcd.clientUrls().map(memberCounters));
    const delta = (name, pick) => {
      const values = etcdNow.map((m, i) => (m && start.etcd[i] ? m[name] - start.etcd[i][name] : Number.NaN));
      return pick(values.filter(Number.isFinite));
    };
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const etcd = {
      // Every member commits every proposal: the largest count is the cluster's.
      proposals: delta('proposals', (xs) => Math.max(...xs)),
      fsyncs: delta('fsyncs', sum),
      txnCalls: delta('Txn', sum),
      rangeCalls: delta('Range', sum),
    };
    const nodeCalls = await this.#nodeCalls(phase);
    const perOp = (x) => (ops > 0 ? x / ops : Number.NaN);
    const figures = {
      phase,
      ops,
      wallMs: Math.round(wallMs),
      cores: (busy / wallMs).toFixed(2),
      cpuMsPerOp: {
        bench: perOp(sum(perGroup.bench)),
        etcd: perOp(sum(perGroup.etcd.filter(Number.isFinite))),
        nodes: perOp(sum(perGroup.nodes.filter(Number.isFinite))),
        eachNode: perGroup.nodes.map(perOp),
        other: perOp(busy - ours),
      },
      etcdPerOp: Object.fromEntries(Object.entries(etcd).map(([k, v]) => [k, perOp(v)])),
      nodeCalls,
    };
    this.phases.push(figures);
    const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');
    const c = figures.cpuMsPerOp;
    log(
      `      ${phase}: ${ops} ops, machine ${figures.cores} cores busy; CPU ms/op bench ${f(c.bench)}, etcd ${f(c.etcd)}, nodes ${f(c.nodes)} [${c.eachNode.map(f).join(' / ')}], other ${f(c.other)}; etcd per op: ${f(figures.etcdPerOp.proposals)} proposals, ${f(figures.etcdPerOp.fsyncs)} fsyncs, ${f(figures.etcdPerOp.txnCalls)} Txn + ${f(figures.etcdPerOp.rangeCalls)} Range calls`,
    );
    if (nodeCalls) {
      for (const [node, s] of Object.entries(nodeCalls)) {
        if (s.writeOps + s.readOps === 0) continue;
        log(
          `        ${node}: ${s.writeOps} writes in ${s.writeTxns} txns (mean ${f(s.writeOps / s.writeTxns)}, p50 ${s.writeP50}, p90 ${s.writeP90}, max ${s.writeMax}); ${s.readOps} reads in ${s.readTxns} read txns (mean ${f(s.readOps / s.readTxns)}; ${Object.entries(
            s.readKeys ?? {},
          )
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}); ${s.ranges} range calls`,
        );
      }
    }
    return figures;
  }

  /** Asks each node's preload for its figures of the phase just ended (bounded: 5 s). */
  async #nodeCalls(phase) {
    if (!this.probeDir) return undefined;
    writeFileSync(join(this.probeDir, 'phase'), phase);
    const nodes = this.cluster.nodes.filter((n) => n.pid !== undefined && n.state === 'running');
    for (const n of nodes) process.kill(n.pid, 'SIGUSR2');
    const until = performance.now() + 5000;
    const done = () =>
      readdirSync(this.probeDir).filter((f) => f.startsWith(`${phase}.`) && f.endsWith('.done'));
    while (done().length < nodes.length && performance.now() < until) await sleep(20);
    const out = {};
    for (const file of readdirSync(this.probeDir)) {
      if (!file.startsWith(`${phase}.`) || !file.endsWith('.calls.json')) continue;
      const node = file.slice(phase.length + 1, -'.calls.json'.length);
      const counts = JSON.parse(readFileSync(join(this.probeDir, file), 'utf8'));
      out[node] = summarize(counts);
    }
    return out;
  }
}

function summarize(counts) {
  const sizes = Object.entries(counts.writeTxns)
    .map(([size, n]) => [Number(size), n])
    .sort((a, b) => a[0] - b[0]);
  const writeTxns = sizes.reduce((a, [, n]) => a + n, 0);
  const writeOps = sizes.reduce((a, [s, n]) => a + s * n, 0);
  // Percentiles of the batch size an operation travelled in (weighted by operations, not by batches).
  const at = (q) => {
    let seen = 0;
    for (const [s, n] of sizes) {
      seen += s * n;
      if (seen >= q * writeOps) return s;
    }
    return 0;
  };
  const reads = Object.entries(counts.readTxns).map(([size, n]) => [Number(size), n]);
  return {
    writeTxns,
    writeOps,
    writeP50: at(0.5),
    writeP90: at(0.9),
    writeMax: sizes.at(-1)?.[0] ?? 0,
    readTxns: reads.reduce((a, [, n]) => a + n, 0),
    readOps: reads.reduce((a, [s, n]) => a + s * n, 0),
    ranges: counts.ranges,
    histogram: counts.writeTxns,
    readKeys: counts.readKeys,
  };
}
