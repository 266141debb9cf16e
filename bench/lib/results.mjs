// Result files: every benchmark writes its figures to bench/results/<name>.json, and bench/report.mjs
// renders all the files present into one bench/report.md. A figure carries its ceiling (the baseline
// measured in the same run), the load generator that produced it, and each run's value, so the report
// can show ratios, medians and spreads without re-running anything.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_DIR = join(ROOT, 'bench/results');

export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

/** The commit measured; "+dirty" when tracked files differ from it (results would not match the commit). */
export function gitCommit() {
  const head = git(['rev-parse', 'HEAD']) ?? 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return dirty ? `${head}+dirty` : head;
}

// Read when a benchmark starts, so a commit made while it runs does not relabel its figures.
const COMMIT_AT_START = gitCommit();

export function machineInfo() {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/**
 * Writes bench/results/<name>.json. `figures`: [{ key, label, unit, better: 'higher'|'lower', value,
 * runs?, generator, ceiling?: { label, value, runs? }, ratio?, ratioRuns?, targetRatio?, note? }];
 * `targets`: [{ label, measured, pass }] with pass true/false, or null when this run could not judge it.
 */
export function writeResults(name, { title, command, settings, figures, targets, notes = [], details }) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  const doc = {
    name,
    title,
    command,
    date: new Date().toISOString(),
    commit: COMMIT_AT_START,
    machine: machineInfo(),
    settings,
    figures,
    targets,
    notes,
    // Raw measurements behind the figures that the report does not render (e.g. bench:ha's CPU per phase).
    ...(details === undefined ? {} : { details }),
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

/** The command that reproduces this run: the npm script with the settings given in the environment. */
export function commandLine(script, names) {
  const set = names.filter((n) => process.env[n] !== undefined).map((n) => `${n}=${process.env[n]}`);
  return [...set, script].join(' ');
}
