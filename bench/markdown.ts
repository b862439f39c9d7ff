// Prints a results file of `npm run bench` as the Markdown table of the README's Performance section.
// Usage: npx tsx bench/markdown.ts bench/results/<date>.json
import fs from 'node:fs';

interface Part {
  name: string;
  figures: Record<string, number>;
  lines: string[];
  targets: { what: string; met: boolean; value: string }[];
}
const file = process.argv[2];
if (!file) throw new Error('usage: bench/markdown.ts <results.json>');
const report = JSON.parse(fs.readFileSync(file, 'utf8')) as { date: string; machine: Record<string, unknown>; parts: Part[] };
const m = report.machine;
console.log(`Run of ${report.date.slice(0, 10)} on ${m.cpus} × ${m.cpu}, ${m.memory_gb} GB, Node ${m.node}.\n`);
console.log('| part | measured | baseline in the same run | target |');
console.log('|---|---|---|---|');
for (const p of report.parts) {
  const measured = p.lines.filter((l) => !/^baseline/.test(l.trim())).map((l) => l.trim().replace(/\s{2,}/g, ' ').replace(/\|/g, '\\|'));
  const baseline = p.lines.filter((l) => /^baseline/.test(l.trim())).map((l) => l.trim().replace(/\s{2,}/g, ' ').replace(/\|/g, '\\|'));
  const targets = p.targets.map((t) => `${t.met ? '✅' : '❌'} ${t.what} (${t.value})`);
  console.log(`| **${p.name}** | ${measured.join('<br>')} | ${baseline.join('<br>') || '—'} | ${targets.join('<br>')} |`);
}
