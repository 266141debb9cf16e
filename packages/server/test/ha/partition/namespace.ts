import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The scenario's private network and mount namespace: one loopback address and one uid per process, and
 * nftables rules that cut chosen pairs of addresses apart.
 *
 * Layout: etcd members on 127.0.0.11-13, Leasehold nodes on 127.0.0.21-23 (port 7300), every node talks to
 * all three members; the scenario's own HTTP clients and probes use 127.0.0.1, which no rule ever drops.
 *
 * Why each process runs as its own uid: the kernel picks the source address of an unbound socket from the
 * route, and every 127.0.0.0/8 destination gets 127.0.0.1 (measured: a client on "127.0.0.21" connecting
 * to 127.0.0.12 shows up as 127.0.0.1). Neither etcd's peer dialer nor grpc-js binds a local address, so
 * rules by address would match nothing. A uid-range routing rule per process ("ip rule add uidrange U-U
 * lookup U", table U: "local 127.0.0.0/8 dev lo src <its address>") makes each process's connections leave
 * from its own address, in both directions, and then `ip saddr A ip daddr B drop` cuts A from B.
 */
export const ETCD_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'] as const;
export const NODE_HOSTS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'] as const;
export const NODE_PORT = 7300;
const NFT_TABLE = 'leasehold_partition';

/** The uid a process on `host` runs as (its routing rule picks its source address by uid). */
export const uidOf = (host: string): number => 47_000 + Number(host.split('.')[3]);

export interface RunError extends Error {
  readonly stderr?: string;
}

export function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    timeout: 5000,
    ...(input !== undefined ? { input } : {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Refuses to touch a network namespace that is not a fresh private one (only `lo`, not init's). */
export function assertPrivateNamespace(): void {
  const links = run('ip', ['-o', 'link', 'show'])
    .trim()
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0]);
  if (links.some((name) => name !== 'lo')) {
    throw new Error(
      `refusing to run: this network namespace has interfaces other than lo (${links.join(', ')}); ` +
        'start me with "unshare -n -m node …/partition/main.js …"',
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
function ownNamespace(kind: 'net' | 'mnt'): boolean {
  try {
    return readlinkSync(`/proc/self/ns/${kind}`) !== readlinkSync(`/proc/${process.ppid}/ns/${kind}`);
  } catch {
    return false;
  }
}

/**
 * Makes every mount of this namespace private (nothing mounted here may propagate anywhere else), and
 * refuses unless the mount namespace is our own.
 */
export function privateMounts(): void {
  if (!ownNamespace('mnt'))
    throw new Error('refusing to run outside a private mount namespace; start me with "unshare -n -m"');
  run('mount', ['--make-rprivate', '/']);
}

/**
 * Gives the test uids a passwd entry, in this private mount namespace only: `leasehold` calls
 * os.userInfo() while building its CLI (server-commands.ts, a --client-id default), which throws for a uid
 * without one, so `serve` would not start. Call after {@link privateMounts}.
 */
export function overlayPasswd(workDir: string): void {
  const entries = [...ETCD_HOSTS, ...NODE_HOSTS]
    .map((h) => `lh-partition-${h.split('.')[3]}:x:${uidOf(h)}:${uidOf(h)}::/nonexistent:/usr/sbin/nologin\n`)
    .join('');
  const path = join(workDir, 'passwd');
  writeFileSync(path, readFileSync('/etc/passwd', 'utf8') + entries, { mode: 0o644 });
  run('mount', ['--bind', path, '/etc/passwd']);
}

export function setUpNetwork(): void {
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
    const e = err as RunError;
    throw new Error(`nftables does not work in this namespace (kernel nf_tables?): ${e.stderr ?? e.message}`);
  }
}

/** Drops every packet between each pair, both directions, in one atomic nft transaction. */
export function cut(pairs: readonly (readonly [string, string])[]): void {
  const rules = pairs.flatMap(([a, b]) => [
    `add rule inet ${NFT_TABLE} out ip saddr ${a} ip daddr ${b} counter drop`,
    `add rule inet ${NFT_TABLE} out ip saddr ${b} ip daddr ${a} counter drop`,
  ]);
  run('nft', ['-f', '-'], `${rules.join('\n')}\n`);
}

/** Packets the partition rules dropped so far (evidence that the cut was real). */
export function droppedPackets(): number {
  const text = run('nft', ['list', 'chain', 'inet', NFT_TABLE, 'out']);
  let total = 0;
  for (const match of text.matchAll(/counter packets (\d+)/g)) total += Number(match[1]);
  return total;
}

export function heal(): void {
  run('nft', ['flush', 'chain', 'inet', NFT_TABLE, 'out']);
}
