// Summarises a .cpuprofile (bench/probe/profile-embedded.mjs): self time by function and by file or
// package, and inclusive time of the functions given on the command line.
//   node bench/probe/summarize-profile.mjs <file.cpuprofile> [top N] [inclusive name ...]
import { readFileSync } from 'node:fs';

const [file, topArg, ...inclusive] = process.argv.slice(2);
const top = Number(topArg ?? 40);
const p = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const counts = new Map();
for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const total = p.samples.length;

const where = (cf) => {
  const url = cf.url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const pkg = /packages\/([^/]+)\/dist\/(.*)$/.exec(url);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  if (url.startsWith('node:')) return url;
  return url || '(native)';
};
const label = (cf) => `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;

const bySelf = new Map();
const byFile = new Map();
for (const [id, c] of counts) {
  const cf = nodes.get(id).callFrame;
  bySelf.set(label(cf), (bySelf.get(label(cf)) ?? 0) + c);
  byFile.set(where(cf), (byFile.get(where(cf)) ?? 0) + c);
}
const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [k, c] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(c)}  ${k}`);
};
console.log(`${file}: ${total} samples`);
print('self time by function', bySelf, top);
print('self time by file / package', byFile, 30);

// Inclusive: a sample counts once for each distinct matching frame on its stack.
const incl = new Map();
const stackOf = (id) => {
  const s = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) s.push(nodes.get(cur).callFrame);
  return s;
};
const allIncl = new Map();
for (const [id, c] of counts) {
  const seen = new Set();
  for (const cf of stackOf(id)) {
    const k = label(cf);
    if (seen.has(k)) continue;
    seen.add(k);
    allIncl.set(k, (allIncl.get(k) ?? 0) + c);
    for (const name of inclusive) if (k.includes(name)) incl.set(name, (incl.get(name) ?? 0) + c);
  }
}
if (inclusive.length) print('inclusive (given names)', incl, inclusive.length);
print(
  'inclusive by function (project code)',
  new Map([...allIncl].filter(([k]) => /^\S+ (domain|store|server)\//.test(k))),
  top,
);
