// jest reporter: prints the reliability figures recorded during the run as one table (test/reliability/support/figures.ts).
const fs = require('node:fs');
const path = require('node:path');

const FIGURES_FILE = path.join(__dirname, '..', '..', '..', '.rekey-tmp', 'reliability-figures.jsonl');

class FiguresReporter {
  onRunStart() {
    fs.rmSync(FIGURES_FILE, { force: true });
  }

  onRunComplete() {
    if (!fs.existsSync(FIGURES_FILE)) return;
    const rows = fs
      .readFileSync(FIGURES_FILE, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    if (rows.length === 0) return;
    rows.sort((a, b) => a.area.localeCompare(b.area));
    const size = process.env.REKEY_RELIABILITY_SIZE === 'large' ? 'large' : 'ci';
    const header = ['area', 'figure', 'measured', 'goal'];
    const body = rows.map((r) => [r.area, r.figure, r.value, r.goal]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
    const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
    const out = [
      '',
      `rekey reliability figures (size: ${size})`,
      line(header),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...body.map(line),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
}

module.exports = FiguresReporter;
