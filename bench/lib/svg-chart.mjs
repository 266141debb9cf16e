// A horizontal bar chart as a standalone SVG string: one bar per figure, its length the figure's ratio to
// its ceiling, a line at 100% (the ceiling) and a tick at each figure's target ratio. Written by hand (a
// few dozen lines) instead of pulling in a charting library: the npm ones either render through a browser
// or canvas (puppeteer, chartjs-node-canvas need native or browser downloads) or bring far more than bars.

const xml = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * bars: [{ label, ratio, target?, better: 'higher'|'lower', text }]. A bar is green when it meets its
 * target, red when it misses it, grey with no target.
 */
export function ratioBarChart({ title, bars }) {
  const labelW = 330;
  const barW = 420;
  const rowH = 26;
  const top = 40;
  const width = labelW + barW + 230;
  const height = top + bars.length * rowH + 30;
  // The axis ends at 2x the ceiling at most: one far-off ratio (a memoized check at 50x) would otherwise
  // squeeze every other bar to a sliver. A longer bar is cut at the edge; its text gives the true ratio.
  const maxRatio = Math.min(
    2,
    Math.max(1.2, ...bars.map((b) => b.ratio ?? 0), ...bars.map((b) => b.target ?? 0)),
  );
  const x = (ratio) => Math.round((labelW + (Math.min(ratio, maxRatio) / maxRatio) * barW) * 10) / 10;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${xml(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const met =
      b.target === undefined ? undefined : b.better === 'lower' ? b.ratio <= b.target : b.ratio >= b.target;
    const fill = met === undefined ? '#9aa5b1' : met ? '#2f9e44' : '#e03131';
    parts.push(`<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${xml(b.label)}</text>`);
    if (Number.isFinite(b.ratio)) {
      parts.push(
        `<rect x="${labelW}" y="${y + 4}" width="${(x(b.ratio) - labelW).toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`,
      );
      parts.push(`<text x="${x(b.ratio) + 6}" y="${y + 16}">${xml(b.text)}</text>`);
    }
    if (b.target !== undefined) {
      parts.push(
        `<line x1="${x(b.target)}" x2="${x(b.target)}" y1="${y + 1}" y2="${y + rowH - 1}" stroke="#000" stroke-width="2"/>`,
      );
    }
  });
  const axisY = top + bars.length * rowH;
  parts.push(
    `<line x1="${x(1)}" x2="${x(1)}" y1="${top - 4}" y2="${axisY + 4}" stroke="#555" stroke-dasharray="4 3"/>`,
  );
  parts.push(`<text x="${x(1)}" y="${axisY + 18}" text-anchor="middle">100% of ceiling</text>`);
  parts.push(`<text x="${labelW}" y="${axisY + 18}" text-anchor="middle">0</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
