/** docs/performance.md's chart: storm latency per contender (p50 and p99 bars), as a self-contained SVG. */
export interface ChartBar {
  label: string;
  p50: number;
  p99: number;
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function latencyChart(title: string, bars: ChartBar[]): string {
  const labelWidth = 300;
  const plotWidth = 420;
  const rowHeight = 46;
  const top = 40;
  const height = top + bars.length * rowHeight + 40;
  const width = labelWidth + plotWidth + 90;
  const maxValue = Math.max(...bars.map((b) => b.p99), 1);
  const step = [10, 20, 50, 100, 200, 500, 1000].find((s) => maxValue / s <= 8) ?? 1000;
  const scaleMax = Math.ceil(maxValue / step) * step;
  const x = (v: number): number => labelWidth + (v / scaleMax) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let tick = 0; tick <= scaleMax; tick += step) {
    const tx = x(tick).toFixed(1);
    const bottom = String(top + bars.length * rowHeight);
    parts.push(
      `<line x1="${tx}" y1="${String(top)}" x2="${tx}" y2="${bottom}" stroke="#ddd"/>`,
      `<text x="${tx}" y="${String(top + bars.length * rowHeight + 16)}" text-anchor="middle" fill="#555">${String(tick)} ms</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    parts.push(
      `<text x="${String(labelWidth - 8)}" y="${String(y + 25)}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect x="${String(labelWidth)}" y="${String(y + 6)}" width="${(x(bar.p50) - labelWidth).toFixed(1)}" height="15" fill="#4c78a8"/>`,
      `<rect x="${String(labelWidth)}" y="${String(y + 23)}" width="${(x(bar.p99) - labelWidth).toFixed(1)}" height="15" fill="#f58518"/>`,
      `<text x="${(x(bar.p50) + 4).toFixed(1)}" y="${String(y + 18)}" font-size="11">p50 ${bar.p50.toFixed(0)} ms</text>`,
      `<text x="${(x(bar.p99) + 4).toFixed(1)}" y="${String(y + 35)}" font-size="11">p99 ${bar.p99.toFixed(0)} ms</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
