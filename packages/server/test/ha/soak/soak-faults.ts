import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClockFaults, NetworkFaults } from '../nemesis.js';
import { cut, ETCD_HOSTS, heal, NODE_HOSTS } from '../partition/namespace.js';

/**
 * The soak's two fault kinds beyond signals, on the namespaced cluster (../partition/namespaced-cluster.ts):
 *
 * - **Partitions**: nftables drops between the addresses of named processes (`node-2` → 127.0.0.22,
 *   `etcd1` → 127.0.0.11; namespace.ts), both directions, in one atomic transaction; `heal` flushes them.
 * - **Clock steps**: every node runs under libfaketime (Debian `faketime`, as the clock-skew test uses it)
 *   with its offset read from a control file (`FAKETIME_TIMESTAMP_FILE`, `+0s` at start), which libfaketime
 *   re-reads once its cache (`FAKETIME_CACHE_DURATION`, 1 s here) runs out. Writing `+2s` into it steps
 *   that running node's wall clock 2 s ahead within a second, with no restart; only the wall clock moves
 *   (`FAKETIME_DONT_FAKE_MONOTONIC`), so the node's timers and intervals stay true, as after an NTP step.
 */

const LIBFAKETIME = ['x86_64-linux-gnu', 'aarch64-linux-gnu']
  .map((arch) => `/usr/lib/${arch}/faketime/libfaketime.so.1`)
  .find((path) => existsSync(path));
const CACHE_SECONDS = 1;

function hostOf(name: string): string {
  const etcd = /^etcd(\d)$/.exec(name);
  const node = /^node-(\d)$/.exec(name);
  const host = etcd ? ETCD_HOSTS[Number(etcd[1]) - 1] : node ? NODE_HOSTS[Number(node[1]) - 1] : undefined;
  if (host === undefined) throw new Error(`no address for ${name}`);
  return host;
}

export const namespaceNetwork: NetworkFaults = {
  cut(a, b) {
    cut(a.flatMap((x) => b.map((y) => [hostOf(x), hostOf(y)] as const)));
  },
  heal,
};

/** libfaketime's control files, one per node, in `dir`; and the environment that makes each node read its own. */
export class FaketimeClocks implements ClockFaults {
  readonly settleMs = CACHE_SECONDS * 1000 + 100;
  readonly #dir: string;

  constructor(dir: string) {
    if (!LIBFAKETIME) throw new Error('libfaketime not found: install the Debian package `faketime`');
    this.#dir = dir;
  }

  #file(node: string): string {
    return join(this.#dir, `faketime-${node}`);
  }

  /** The library the nodes must preload (startNodes' `preload`). */
  get library(): string {
    return LIBFAKETIME ?? '';
  }

  /** Per node name: point libfaketime at that node's control file (written `+0s` now). */
  envByName(nodes: readonly string[]): Record<string, Record<string, string>> {
    return Object.fromEntries(
      nodes.map((name) => {
        this.step(name, 0);
        return [
          name,
          {
            FAKETIME_TIMESTAMP_FILE: this.#file(name),
            FAKETIME_CACHE_DURATION: String(CACHE_SECONDS),
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          },
        ];
      }),
    );
  }

  step(node: string, offsetMs: number): void {
    const seconds = offsetMs / 1000;
    // Written beside and renamed over: libfaketime never reads a truncated, half-written file.
    const file = this.#file(node);
    writeFileSync(`${file}.new`, `${seconds >= 0 ? '+' : ''}${seconds}s\n`, { mode: 0o644 });
    renameSync(`${file}.new`, file);
  }
}
