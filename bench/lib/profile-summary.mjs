// Summarizes V8 CPU profiles (.cpuprofile, e.g. from bench:ha with BENCH_HA_PROBE and BENCH_HA_PROFILE=1):
// self time by where the code lives (npm package, Leasehold package file, Node internals, GC, idle) and
// the functions with the most self time, as shares of the busy (non-idle) time.
//
//   node bench/lib/profile-summary.mjs <file.cpuprofile>... [--top 40] [--by file|package]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 40;
const byAt = args.indexOf('--by');
const by = byAt >= 0 ? args[byAt + 1] : 'package';
const values = new Set([topAt, byAt].filter((i) => i >= 0).map((i) => i + 1));
const files = args.filter((a, i) => !a.startsWith('--') && !values.has(i));

/** Where a frame's code lives, at the granularity asked. */
function placeOf(frame) {
  const { url, functionName } = frame;
  if (!url) {
    if (['(idle)', '(program)', '(garbage collector)', '(root)'].includes(functionName)) return functionName;
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    const pkg = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    return by === 'file' ? `${pkg}/${rest.slice(rest[0].startsWith('@') ? 2 : 1).join('/')}` : pkg;
  }
  const lh = /packages\/([^/]+)\/dist\/(.*)$/.exec(url);
  if (lh) return by === 'file' ? `@leasehold/${lh[1]}/${lh[2]}` : `@leasehold/${lh[1]}`;
  if (url.startsWith('node:')) return by === 'file' ? url : 'node:internal';
  return url;
}

const self = new Map();
const inclusive = new Map();
const fns = new Map();
let total = 0;
let idle = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const hits = new Map();
  // Sample counts weighted by each sample's time delta (µs), as DevTools does.
  profile.samples.forEach((id, i) => {
    hits.set(id, (hits.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  });
  for (const [id, us] of hits) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const place = placeOf(frame);
    self.set(place, (self.get(place) ?? 0) + us);
    // Inclusive: every place on the sample's stack, once.
    const onStack = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at)?.callFrame;
      if (f && f.functionName !== '(root)') onStack.add(placeOf(f));
    }
    for (const p of onStack) inclusive.set(p, (inclusive.get(p) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${place}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
}
const busy = total - idle;
const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(
  `${files.length} profile(s): ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((busy / total) * 100).toFixed(0)}%)\n\nself time by ${by}:\n`,
);
for (const [place, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`  ${pct(us)}  ${place}\n`);
}
process.stdout.write(`\ninclusive time by ${by} (on the stack):\n`);
for (const [place, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`  ${pct(us)}  ${place}\n`);
}
process.stdout.write(`\nfunctions by self time:\n`);
for (const [fn, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`  ${pct(us)}  ${fn}\n`);
}
