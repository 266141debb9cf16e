/**
 * Where a client keeps the little it must remember across restarts: the wall-clock high-water mark (so
 * that a clock set back cannot revive an expired token) and the cluster's JWK Set (so that tokens can be
 * verified while no node answers). One string, read once at start and written now and then.
 *
 * In a browser, `localStorage` fits:
 *
 * @example
 * ```ts
 * const stateStore = {
 *   load: () => localStorage.getItem('leasehold'),
 *   save: (state: string) => localStorage.setItem('leasehold', state),
 * };
 * ```
 */
export interface StateStore {
  load(): string | null | undefined | Promise<string | null | undefined>;
  save(state: string): void | Promise<void>;
}

interface FsPromises {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string, options: { mode: number }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

/**
 * A {@link StateStore} in one file (Node, Deno, Bun). Writes go to a temporary file that is then renamed
 * over the old one, so a crash mid-write leaves the previous state. The file is not secret, but it is not
 * tamper-proof either: it stops a clock set back by mistake or by a casual user, not a determined one.
 *
 * @example
 * ```ts
 * const client = createClient({ servers, token, clientId, stateStore: fileStateStore('/var/lib/app/leasehold.json') });
 * ```
 */
export function fileStateStore(path: string): StateStore {
  if (typeof path !== 'string' || path === '') throw new TypeError('fileStateStore needs a file path');
  // No static import of node:fs: the SDK's main entry point stays loadable in a browser.
  const fs = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:fs/promises') as FsPromises | undefined;
  if (!fs) throw new TypeError('fileStateStore needs node:fs (Node 20.16+, Deno or Bun)');
  let writes = Promise.resolve();
  return {
    async load() {
      try {
        return await fs.readFile(path, 'utf8');
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    save(state) {
      // One write at a time, in order: two overlapping renames could put an older state last.
      // A failed write does not block the next one.
      const write = writes
        .catch(() => undefined)
        .then(async () => {
          const temporary = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
          await fs.writeFile(temporary, state, { mode: 0o600 });
          await fs.rename(temporary, path);
        });
      writes = write;
      return write;
    },
  };
}
