import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export interface DashboardAssets {
  /** index.html: the page every node serves at `/`. */
  readonly shell: Asset;
  /** Everything else, by the name it is served under at `/dashboard/<name>`. */
  readonly files: ReadonlyMap<string, Asset>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function asset(path: string): Asset {
  const body = readFileSync(path);
  const type = TYPES[extname(path)] ?? 'application/octet-stream';
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/**
 * Reads the dashboard's files once, at start-up: the browser modules that `tsc -b` compiled into
 * `@leasehold/dashboard`'s dist/, its static files in public/, and uPlot's ES module and stylesheet from
 * node_modules. Only these names are ever served — no path from a request reaches the file system.
 */
export function loadDashboardAssets(): DashboardAssets {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@leasehold/dashboard/package.json'));
  const fromDashboard = createRequire(join(root, 'package.json'));
  const files = new Map<string, Asset>();
  const addDir = (dir: string, extensions: readonly string[]) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (extensions.includes(extname(name)) && !name.endsWith('.d.ts'))
        files.set(name, asset(join(dir, name)));
    }
  };
  addDir(join(root, 'public'), ['.css', '.svg']);
  addDir(join(root, 'dist'), ['.js']);
  files.set('uplot.js', asset(fromDashboard.resolve('uplot/dist/uPlot.esm.js')));
  files.set('uplot.css', asset(fromDashboard.resolve('uplot/dist/uPlot.min.css')));
  return { shell: asset(join(root, 'public', 'index.html')), files };
}
