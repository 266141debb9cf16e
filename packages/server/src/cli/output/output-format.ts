import { type Command, Option } from 'commander';

/** `-o table` (the default: for people) or `-o json` (for scripts: the node's answer, unchanged). */
export type OutputFormat = 'table' | 'json';

/** Adds `-o, --output <table|json>` and `--json` (the same as `-o json`) to a listing command. */
export function withOutput(command: Command): Command {
  return command
    .addOption(
      new Option('-o, --output <format>', 'table (for people) or json (for scripts)')
        .choices(['table', 'json'])
        .default('table'),
    )
    .option('--json', 'same as -o json');
}

export function outputFormat(opts: Readonly<Record<string, unknown>>): OutputFormat {
  return opts.json || opts.output === 'json' ? 'json' : 'table';
}
