/** One column of a table: its header and how a row shows in it. */
export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => string;
  /** Right-aligned (numbers, durations). */
  readonly right?: boolean;
}

/**
 * A plain-text table as `kubectl get` and `lmstat` users expect: upper-case headers, columns padded to
 * their widest cell and two spaces apart, no borders (so `grep`, `awk '{print $1}'` and `sort` work on
 * it). Trailing spaces are trimmed. An empty list prints `none` under the header line's title.
 */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[], empty = 'none'): string {
  if (rows.length === 0) return `${empty}\n`;
  const cells = rows.map((row) => columns.map((c) => oneLine(c.cell(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]?.right ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}

/** A cell never breaks the table: control characters (a client-supplied name, say) become spaces. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the characters to neutralize
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}
