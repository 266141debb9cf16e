import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { run } from './namespace.js';

/**
 * Makes the checkout, node and etcd reachable for the per-process uids (namespace.ts), wherever the
 * checkout sits. A clone under `/root` or in a `mktemp -d` folder (mode 0700) cannot be entered by those
 * uids, and node then reports the entry script as "Cannot find module", which says nothing of the cause.
 *
 * So, in the scenario's private mount namespace only: `<workDir>/checkout` (a directory of ours, 0755)
 * gets a read-only bind mount of every top-level entry of the checkout, and `<workDir>/bin/` one of the
 * node and etcd executables (resolved through symlinks: `.cache/etcd` may link to another checkout). The
 * workspace links in node_modules are relative, so module resolution stays inside the mount. Every child
 * is then started through these paths, and {@link assertRunnable} proves, as a uid of the scenario, that
 * they run — or says which path stops it and why.
 */
export interface MountedCheckout {
  /** Where the uids see the checkout's root. */
  readonly root: string;
  /** The node executable, as the uids see it. */
  readonly node: string;
  /** The etcd executable, as the uids see it. */
  readonly etcd: string;
  /** `path` (inside the checkout) as the uids see it. */
  inside(path: string): string;
}

/** Entries of the checkout's root that the children never need (etcd is mounted by itself). */
const SKIPPED = new Set(['.git', '.cache']);

export function mountCheckout(o: {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly nodeBin: string;
  readonly etcdBin: string;
}): MountedCheckout {
  const repo = realpathSync(o.repoRoot);
  const root = join(o.workDir, 'checkout');
  mkdirSync(root, { mode: 0o755 });
  for (const entry of readdirSync(repo, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const source = join(repo, entry.name);
    let isDir: boolean;
    try {
      isDir = statSync(source).isDirectory(); // follows a symlinked entry
    } catch {
      continue; // a dangling link: nothing a child could load through it
    }
    bindReadOnly(realpathSync(source), join(root, entry.name), isDir);
  }
  const bin = join(o.workDir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  const node = join(bin, 'node');
  const etcd = join(bin, 'etcd');
  bindReadOnly(realpathSync(o.nodeBin), node, false);
  bindReadOnly(realpathSync(o.etcdBin), etcd, false);
  return {
    root,
    node,
    etcd,
    inside(path) {
      const rel = relative(repo, realpathSync(path));
      if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
        throw new Error(`${path} is not inside the checkout ${repo}; the scenario's uids cannot reach it`);
      }
      return join(root, rel);
    },
  };
}

function bindReadOnly(source: string, target: string, isDir: boolean): void {
  if (isDir) mkdirSync(target, { mode: 0o755 });
  else closeSync(openSync(target, 'w', 0o755));
  // `-o bind,ro` binds and then remounts read-only (util-linux >= 2.27): the children cannot write to it.
  run('mount', ['-o', 'bind,ro', source, target]);
}

/**
 * Why a user that owns nothing and is in no group of ours (the scenario's uids) cannot reach `path`, from
 * the mode bits of `path` and every directory above it; undefined when the bits allow it. (ACLs and LSMs
 * are not read: {@link assertRunnable} runs the real thing.)
 */
export function whyUnreachable(path: string, need: 'read' | 'run'): string | undefined {
  const parts = path.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const at = `${sep}${parts.slice(0, i).join(sep)}`;
    let mode: number;
    let owner: string;
    try {
      const s = statSync(at);
      mode = s.mode;
      owner = `${s.uid}:${s.gid}`;
    } catch (err) {
      return `${at} cannot be stat-ed (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    const bits = `mode ${(mode & 0o7777).toString(8).padStart(4, '0')}, owner ${owner}`;
    if (i < parts.length) {
      if ((mode & 0o001) === 0) return `${at} (${bits}) does not let other users enter it`;
      continue;
    }
    if ((mode & 0o004) === 0) return `${at} (${bits}) is not readable by other users`;
    if (need === 'run' && (mode & 0o001) === 0) return `${at} (${bits}) is not executable by other users`;
  }
  return undefined;
}

/**
 * Runs `command` as `uid` (with no groups, as the scenario's children run) and throws, naming the path
 * that stops it and why, unless it exits 0. `paths` are checked by their mode bits first; paths named in
 * the command's error output are explained too.
 */
export function assertRunnable(
  uid: number,
  what: string,
  command: readonly string[],
  paths: readonly { readonly path: string; readonly need: 'read' | 'run' }[],
): void {
  for (const { path, need } of paths) {
    const why = whyUnreachable(path, need);
    if (why) throw new Error(`uid ${uid} cannot ${need} ${path} (${what}): ${why}`);
  }
  const [cmd, ...args] = command;
  if (cmd === undefined) throw new Error('assertRunnable: no command');
  const u = String(uid);
  const res = spawnSync('setpriv', [`--reuid=${u}`, `--regid=${u}`, '--clear-groups', '--', cmd, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (res.status === 0) return;
  const output = `${res.stderr ?? ''}${res.stdout ?? ''}`.trim();
  const named = [...output.matchAll(/(\/[^\s'"`:]+)/g)].map((m) => m[1] ?? '');
  const reasons = [...new Set(named)]
    .flatMap((p) => {
      const why = whyUnreachable(p, 'read') ?? whyUnreachable(dirname(p), 'read');
      return why ? [why] : [];
    })
    .slice(0, 3);
  throw new Error(
    `uid ${uid} cannot run ${what} (\`${command.join(' ')}\` ${res.error ? `failed: ${res.error.message}` : `exited ${res.status ?? res.signal}`})` +
      (reasons.length > 0 ? `: ${reasons.join('; ')}` : '') +
      `\n${output.slice(0, 1500)}`,
  );
}
