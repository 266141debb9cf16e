import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  callGateway,
  DevtoolsError,
  EtcdCluster,
  type EtcdMember,
  gatewayGet,
  gatewayPut,
  locateEtcd,
  readHealth,
} from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real etcd 3.5 processes on loopback (scripts/fetch-etcd.sh provides the binary); nothing is mocked.

/** Retries `write` until it succeeds, for at most `timeoutMs`; returns the ms it took. */
async function writeUntilAccepted(write: () => Promise<unknown>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    try {
      await write();
      return performance.now() - start;
    } catch (err) {
      if (performance.now() - start > timeoutMs) throw err;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process state letter from /proc (R, S, T for stopped, …). */
async function procState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * The state a signal leads to is not visible at once on a loaded machine: poll for it, bounded (2 s: the
 * whole SIGSTOP/SIGCONT test, both polls included, took 420 ms at most in 6 runs on 2026-12-06).
 */
async function procStateBecomes(pid: number, wanted: string, timeoutMs = 2000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = await procState(pid);
  while (state !== wanted && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    state = await procState(pid);
  }
  return state;
}

/** Gone, or a zombie waiting for init to reap it: either way no longer running. */
async function exited(pid: number): Promise<boolean> {
  try {
    return (await procState(pid)) === 'Z';
  } catch {
    return true;
  }
}

/** Command lines of etcd processes whose data dir is under `dir` (other etcd processes are not ours). */
function etcdProcessesUnder(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-a', 'etcd'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dir));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('EtcdCluster: 3 members, failover lifecycle', () => {
  let dataDir: string;
  let cluster: EtcdCluster;
  const pids = new Set<number>();
  const notePids = () => {
    for (const m of cluster.members) if (m.pid !== undefined) pids.add(m.pid);
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'leasehold-devtools-'));
    cluster = await EtcdCluster.start({ members: 3, dataDir });
    notePids();
  });

  afterAll(async () => {
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts three running members on distinct loopback ports, healthy, with one leader', async () => {
    expect(cluster.members.map((m) => m.name)).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(cluster.members.every((m) => m.state === 'running' && m.pid !== undefined)).toBe(true);
    const urls = [...cluster.clientUrls(), ...cluster.members.map((m) => m.peerUrl)];
    expect(new Set(urls).size).toBe(6);
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const leader = await cluster.waitHealthy(10_000);
    expect(await cluster.leader()).toBe(leader);
    expect(await cluster.followers()).toHaveLength(2);
    for (const url of cluster.clientUrls())
      expect(await readHealth(url)).toEqual({ healthy: true, reason: '' });
    // Logs go to each member's file, not to our stdout.
    expect(await readFile(cluster.members[0]!.logFile, 'utf8')).toContain('leasehold devtools:');
  });

  it('writes through one member and reads through another (JSON gateway, base64 keys and values)', async () => {
    const [a, b] = cluster.clientUrls();
    const put = await callGateway<{ header: { revision: string } }>(a!, '/v3/kv/put', {
      key: Buffer.from('greeting').toString('base64'),
      value: Buffer.from('hello').toString('base64'),
    });
    expect(Number(put.header.revision)).toBeGreaterThan(0);
    const range = await callGateway<{ kvs?: { value: string }[] }>(b!, '/v3/kv/range', {
      key: Buffer.from('greeting').toString('base64'),
    });
    expect(Buffer.from(range.kvs?.[0]?.value ?? '', 'base64').toString()).toBe('hello');
    expect(await gatewayGet(b!, 'greeting')).toBe('hello');
    expect(await gatewayGet(b!, 'no-such-key')).toBeUndefined();
  });

  it('elects a new leader within 3 s of a leader SIGKILL, takes writes again, and the old leader rejoins', async () => {
    const old = await cluster.leader();
    const oldPid = old.pid!;
    const killedAt = performance.now();
    await cluster.kill(old);
    expect(old.state).toBe('stopped');
    expect(old.pid).toBeUndefined();
    expect(old.lastExit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(oldPid)).toBe(false);

    const next = await cluster.leader(3_000);
    expect(next).not.toBe(old);
    const electedMs = performance.now() - killedAt;
    // bound 3000 ms (election timeout 500 ms): worst measured 841 ms to a new leader and 851 ms to the
    // first write below (608-851 ms, 6 runs on 2026-12-06, two beside a CPU-bound process).
    expect(electedMs).toBeLessThan(3_000);
    await writeUntilAccepted(
      () => gatewayPut(next.clientUrl, 'after-failover', 'yes', { timeoutMs: 300 }),
      3_000,
    );
    const writableMs = performance.now() - killedAt;
    console.error(
      `[timing] etcd leader SIGKILL: new leader ${electedMs.toFixed(0)} ms, first write ${writableMs.toFixed(0)} ms (bound 3000 ms)`,
    );
    expect(writableMs).toBeLessThan(3_000);

    await cluster.restart(old);
    notePids();
    expect(old.state).toBe('running');
    expect(old.pid).not.toBe(oldPid);
    await cluster.waitHealthy(10_000);
    // It caught up with what was written while it was down (a linearizable read through it).
    expect(await gatewayGet(old.clientUrl, 'after-failover')).toBe('yes');
  });

  it('pauses a follower with SIGSTOP (the rest keep writing) and resumes it with SIGCONT', async () => {
    const [follower] = (await cluster.followers()) as [EtcdMember, ...EtcdMember[]];
    await cluster.pause(follower);
    expect(follower.state).toBe('paused');
    expect(await procStateBecomes(follower.pid!, 'T')).toBe('T');
    await expect(readHealth(follower.clientUrl, { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'ETCD_GATEWAY',
    });

    const leader = await cluster.waitHealthy(5_000); // the running members only
    expect(leader).not.toBe(follower);
    await gatewayPut(leader.clientUrl, 'while-paused', '1', { timeoutMs: 1_000 });

    await cluster.resume(follower);
    expect(follower.state).toBe('running');
    expect(await procState(follower.pid!)).not.toBe('T');
    await cluster.waitHealthy(5_000);
    expect(await gatewayGet(follower.clientUrl, 'while-paused')).toBe('1');
  });

  it('stop() ends every process it ever started, awaits their exit, and is safe to call twice', async () => {
    notePids();
    expect(pids.size).toBe(4); // three members and the restarted one
    await Promise.all([cluster.stop(), cluster.stop()]);
    await cluster.stop();
    expect(cluster.members.map((m) => m.state)).toEqual(['stopped', 'stopped', 'stopped']);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(etcdProcessesUnder(dataDir)).toEqual([]);
    await expect(cluster.restart('etcd1')).rejects.toThrow(TypeError);
  });
});

describe('EtcdCluster: shapes and failures', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'leasehold-devtools-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('runs a single member', async () => {
    const cluster = await EtcdCluster.start({ members: 1, dataDir: join(base, 'single') });
    try {
      const leader = await cluster.waitHealthy(5_000);
      expect(leader.name).toBe('etcd1');
      await gatewayPut(leader.clientUrl, 'k', 'v');
      expect(await gatewayGet(leader.clientUrl, 'k')).toBe('v');
    } finally {
      await cluster.stop();
    }
  });

  it('binds each member to its own loopback address (as a partition test will need)', async () => {
    const hosts = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
    const cluster = await EtcdCluster.start({ members: 3, dataDir: join(base, 'hosts'), hosts });
    try {
      expect(cluster.members.map((m) => m.host)).toEqual(hosts);
      expect(cluster.clientUrls().map((url) => new URL(url).hostname)).toEqual(hosts);
      expect(cluster.members.map((m) => new URL(m.peerUrl).hostname)).toEqual(hosts);
      await cluster.waitHealthy(10_000);
    } finally {
      await cluster.stop();
    }
  });

  it('fails fast with ETCD_START_FAILED and the member log when etcd refuses to start', async () => {
    const dataDir = join(base, 'bad-flag');
    const started = performance.now();
    const err = await EtcdCluster.start({ members: 1, dataDir, extraArgs: ['--no-such-flag'] }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DevtoolsError);
    expect(err).toMatchObject({ code: 'ETCD_START_FAILED' });
    expect((err as Error).message).toContain('no-such-flag');
    const failedMs = performance.now() - started;
    // bound 5000 ms: worst measured 97 ms (74-97 ms, 6 runs on 2026-12-06, two beside a CPU-bound process).
    console.error(`[timing] etcd refusing to start: failed after ${failedMs.toFixed(0)} ms (bound 5000 ms)`);
    expect(failedMs).toBeLessThan(5_000);
    expect(etcdProcessesUnder(dataDir)).toEqual([]);
  });

  it('gives up after startTimeoutMs with ETCD_START_FAILED, the members stopped', async () => {
    const dataDir = join(base, 'too-slow');
    const err = await EtcdCluster.start({ members: 1, dataDir, startTimeoutMs: 1 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ETCD_START_FAILED', cause: { code: 'ETCD_TIMEOUT' } });
    expect((err as Error).message).toContain(join(dataDir, 'etcd1', 'etcd.log'));
    expect(etcdProcessesUnder(dataDir)).toEqual([]);
  });

  it('restart() waits for a port that another process holds for a moment (EADDRINUSE), then rejoins', async () => {
    const cluster = await EtcdCluster.start({ members: 1, dataDir: join(base, 'port-taken') });
    try {
      const [member] = cluster.members as [EtcdMember];
      await cluster.kill(member);
      const { hostname, port } = new URL(member.clientUrl);
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(Number(port), hostname, resolve));
      setTimeout(() => squatter.close(), 400);
      await cluster.restart(member);
      expect(member.state).toBe('running');
      await cluster.waitHealthy(5_000);
    } finally {
      await cluster.stop();
    }
  });

  it('members die with the process that started them, even when it is SIGKILLed', async () => {
    const script = `
      import { EtcdCluster } from '@leasehold/devtools';
      const cluster = await EtcdCluster.start({ members: 3, dataDir: ${JSON.stringify(join(base, 'orphans'))} });
      await cluster.pause('etcd2');
      console.log(JSON.stringify(cluster.members.map((m) => m.pid)));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await new Promise<number[]>((resolve, reject) => {
      parent.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as number[]));
      parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
    });
    expect(pids).toHaveLength(3);
    parent.kill('SIGKILL');
    const killedAt = performance.now();
    // bound 3 s: the members were gone 6-55 ms after the kill (3 runs on 2026-12-06, one beside a CPU-bound
    // process; the kernel's parent-death signal, spawn-etcd.ts).
    const deadline = performance.now() + 3_000;
    while (!(await Promise.all(pids.map(exited))).every(Boolean) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.error(
      `[timing] etcd members gone ${(performance.now() - killedAt).toFixed(0)} ms after their parent's SIGKILL (bound 3000 ms)`,
    );
    for (const pid of pids) expect(await exited(pid), `pid ${pid}`).toBe(true);
  });

  it('rejects caller mistakes with TypeError before starting anything', async () => {
    const dataDir = join(base, 'mistakes');
    const bad = [
      { members: 2, dataDir },
      { members: 3, dataDir, heartbeatMs: 200, electionMs: 500 },
      { members: 3, dataDir, hosts: ['127.0.0.1'] },
      { members: 1, dataDir, hosts: ['localhost'] },
      { members: 1, dataDir, electionTimeout: 500 },
    ];
    for (const options of bad) {
      await expect(EtcdCluster.start(options as never), JSON.stringify(options)).rejects.toThrow(TypeError);
    }
    await mkdir(join(base, 'used', 'etcd1'), { recursive: true });
    await expect(EtcdCluster.start({ members: 1, dataDir: join(base, 'used') })).rejects.toThrow(
      /already exists/,
    );
  });
});

describe('locateEtcd', () => {
  it("finds the project's cached etcd 3.5", async () => {
    const found = await locateEtcd({ env: { PATH: '' } });
    expect(found.source).toBe('cache');
    expect(found.version).toMatch(/^3\.5\.\d+$/);
    expect(found.bin).toMatch(/\.cache\/etcd\/root\/usr\/bin\/etcd$/);
  });

  it('prefers LEASEHOLD_ETCD_BIN, and says so clearly when it does not run', async () => {
    const { bin } = await locateEtcd({ env: { PATH: '' } });
    expect(await locateEtcd({ env: { LEASEHOLD_ETCD_BIN: bin, PATH: '' } })).toMatchObject({
      bin,
      source: 'env',
    });
    await expect(locateEtcd({ env: { LEASEHOLD_ETCD_BIN: '/nonexistent/etcd' } })).rejects.toMatchObject({
      code: 'ETCD_NOT_FOUND',
      message: expect.stringContaining('LEASEHOLD_ETCD_BIN=/nonexistent/etcd'),
    });
  });

  it('falls back to etcd on PATH with a warning', async () => {
    const { bin } = await locateEtcd({ env: { PATH: '' } });
    const warnings: string[] = [];
    const found = await locateEtcd({
      env: { PATH: join(bin, '..') },
      repoRoot: tmpdir(),
      onWarning: (w) => warnings.push(w),
    });
    expect(found).toMatchObject({ bin, source: 'path' });
    expect(warnings.join('\n')).toMatch(/from PATH.*scripts\/fetch-etcd\.sh/);
  });

  it('tells the user to run scripts/fetch-etcd.sh when there is no etcd at all', async () => {
    await expect(locateEtcd({ env: { PATH: '' }, repoRoot: tmpdir() })).rejects.toMatchObject({
      code: 'ETCD_NOT_FOUND',
      message: expect.stringContaining('scripts/fetch-etcd.sh'),
    });
  });
});
