// Renders bench/report.md and one SVG chart per result file (bench/charts/) from every bench/results/*.json
// present. Each benchmark calls renderReport() when it has written its results; `npm run bench:report`
// re-renders without measuring. Report, charts and results are git-ignored: they describe one machine.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitCommit, machineInfo, RESULTS_DIR, ROOT } from './lib/results.mjs';
import { ratioBarChart } from './lib/svg-chart.mjs';

/** The Targets section of issue 14, in its order; result files judge them by id. */
const ISSUE_TARGETS = [
  ['ha.checkouts', 'HA, 3 nodes on 3 members: API checkouts >= 150% of the raw one-txn-per-op etcd3 loop'],
  ['ha.renewals', 'HA, 3 nodes on 3 members: API renewals >= 150% of the raw etcd3 loop'],
  ['ha.clients200', 'HA: the same at 200 concurrent clients'],
  ['embedded.renewals', 'Embedded: renewals >= 75% of the essential-work baseline'],
  ['embedded.checkouts', 'Embedded: checkouts >= 65% of the essential-work baseline'],
  ['embedded.p99', 'Embedded: p99 < 20 ms at 50 clients (checkouts and renewals)'],
  ['embedded.idleRss', 'Embedded: idle RSS <= 100 MB'],
  ['embedded.rss10k', 'Embedded: RSS <= 130 MB with 10,000 leases'],
  [
    'scale.cluster',
    'Scale, 3-node etcd cluster, 100,000 leases renewed at TTL/3 for 10 min: renew p99 < 100 ms, 0 lost, node RSS <= 200 MB, etcd DB size',
  ],
  ['scale.expiry', 'Scale: expiry of 10,000 leases at once reclaimed within 2 s of their deadline'],
  ['scale.embeddedRss', 'Scale, embedded node with 100,000 leases: RSS <= 200 MB'],
  ['scale.embeddedRate', 'Scale, embedded node: checkout rate at 100k >= 80% of the rate at 1k'],
  ['ha.nodeKill', 'Node-kill outage <= 0.5 s (batching on)'],
  ['ha.leaderKill', 'etcd leader-kill outage <= 1.5 s (batching on)'],
  ['soak', 'Soak: 30 min, >= 1,000 faults, 0 oversubscribed, 0 lost, 0 duplicate grants'],
];

/** The Benchmark section of issue 12 (replication), judged by bench/replication.mjs. */
const REPLICATION_TARGETS = [
  ['replication.lagP99', 'Replication lag p99 < 200 ms at 500 changes/s on loopback'],
  ['replication.catchup', 'Catch-up rate of a replica that was down for 100,000 changes (no target)'],
  ['replication.edgeRatio', "Edge checkout throughput >= 90% of an embedded node's in the same run"],
];

const fmt = (value, unit) => {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
  if (unit === 'MB') return `${value.toFixed(1)} MB`;
  if (unit === 'µs') return `${value.toFixed(1)} µs`;
  return `${Math.round(value).toLocaleString('en-US')}${unit ? (unit.startsWith('/') ? unit : ` ${unit}`) : ''}`;
};
const pct = (ratio) => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)}%` : 'n/a');
const verdict = (pass) => (pass === true ? 'PASS' : pass === false ? 'MISS' : 'not judged');

export function readResults(dir = RESULTS_DIR) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

/** One table row per result that judges a listed target; "not measured" when none does. */
function targetRows(docs, list) {
  const rows = [];
  for (const [id, label] of list) {
    const hits = docs.flatMap((d) =>
      d.targets.filter((t) => t.id === id).map((t) => ({ ...t, doc: d.name })),
    );
    if (hits.length === 0) rows.push(`| ${label} | — | not measured | — |`);
    for (const t of hits) rows.push(`| ${label} | ${t.measured} | ${verdict(t.pass)} | ${t.doc} |`);
  }
  return rows;
}

function figureTable(doc) {
  const rows = [
    '| figure | median | runs | ceiling (same run) | ratio to ceiling | generator |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of doc.figures) {
    const runs = f.runs?.length > 1 ? f.runs.map((v) => fmt(v, f.unit)).join(', ') : '';
    const ceiling = f.ceiling ? `${f.ceiling.label}: ${fmt(f.ceiling.value, f.ceiling.unit ?? f.unit)}` : '—';
    const ratio =
      f.ratio === undefined ? '—' : `${pct(f.ratio)}${f.better === 'lower' ? ' (lower is better)' : ''}`;
    rows.push(
      `| ${f.label}${f.note ? ` (${f.note})` : ''} | ${fmt(f.value, f.unit)} | ${runs} | ${ceiling} | ${ratio} | ${f.generator ?? '—'} |`,
    );
  }
  return rows.join('\n');
}

function chartFor(doc) {
  const bars = doc.figures
    .filter((f) => Number.isFinite(f.ratio))
    .map((f) => ({
      label: f.label.length > 52 ? `${f.label.slice(0, 50)}…` : f.label,
      ratio: f.ratio,
      target: f.targetRatio,
      better: f.better,
      text: `${pct(f.ratio)} of ${f.ceiling?.label ?? 'ceiling'}`,
    }));
  return bars.length > 0
    ? ratioBarChart({ title: `${doc.title}: ratio to ceiling (median)`, bars })
    : undefined;
}

export function renderReport({ resultsDir = RESULTS_DIR, out = join(ROOT, 'bench/report.md') } = {}) {
  const docs = readResults(resultsDir);
  const chartsDir = join(ROOT, 'bench/charts');
  mkdirSync(chartsDir, { recursive: true });
  // A chart whose result file is gone would describe a run the report no longer shows.
  const names = new Set(docs.map((d) => `${d.name}.svg`));
  for (const f of readdirSync(chartsDir)) if (f.endsWith('.svg') && !names.has(f)) rmSync(join(chartsDir, f));
  const m = machineInfo();
  const lines = [
    '# Leasehold benchmark report',
    '',
    `Rendered ${new Date().toISOString()} from ${docs.length} result file(s) in bench/results/ ` +
      `(working tree at ${gitCommit()}). Machine: ${m.cores} cores (${m.cpu}), ${m.memoryMb} MB, ` +
      `${m.platform}, node ${m.node}. Each section gives the date, commit and machine of its own run.`,
    '',
    'Every figure is the median of its runs, shown beside its ceiling: a baseline measured in the same run',
    'on the same machine. Ratios are medians of the per-run ratios (each run paired with the ceiling run',
    'next to it), so they need not equal the ratio of the two medians.',
    '',
    '## Targets (issue 14)',
    '',
    '| target | measured | result | source |',
    '| --- | --- | --- | --- |',
  ];
  lines.push(...targetRows(docs, ISSUE_TARGETS));
  lines.push('', '## Targets (issue 12, replication)', '', '| target | measured | result | source |');
  lines.push('| --- | --- | --- | --- |', ...targetRows(docs, REPLICATION_TARGETS));
  const known = new Set([...ISSUE_TARGETS, ...REPLICATION_TARGETS].map(([id]) => id));
  const others = docs.flatMap((d) =>
    d.targets.filter((t) => !known.has(t.id)).map((t) => ({ ...t, doc: d.name })),
  );
  if (others.length > 0) {
    lines.push('', 'Other targets (from earlier issues, kept by the benchmarks):', '');
    lines.push('| target | measured | result | source |', '| --- | --- | --- | --- |');
    for (const t of others)
      lines.push(`| ${t.label ?? t.id} | ${t.measured} | ${verdict(t.pass)} | ${t.doc} |`);
  }
  for (const doc of docs) {
    lines.push('', `## ${doc.title}`, '');
    lines.push(`- command: \`${doc.command}\``);
    lines.push(`- measured ${doc.date}, commit ${doc.commit}`);
    lines.push(
      `- machine: ${doc.machine.cores} cores (${doc.machine.cpu}), node ${doc.machine.node}, ${doc.machine.platform}`,
    );
    lines.push(
      `- settings: ${Object.entries(doc.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    lines.push('', figureTable(doc));
    const svg = chartFor(doc);
    if (svg) {
      writeFileSync(join(chartsDir, `${doc.name}.svg`), svg);
      lines.push('', `![${doc.title}](charts/${doc.name}.svg)`);
    }
    if (doc.notes.length > 0) lines.push('', ...doc.notes.map((n) => `- ${n}`));
  }
  if (docs.length === 0)
    lines.push('', 'No result files yet: run `npm run bench`, `bench:ha` or `bench:scale`.');
  writeFileSync(out, `${lines.join('\n')}\n`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`wrote ${renderReport()}\n`);
}
