// CSV export. Values come from events (paths, referrers, UTM tags, properties): a cell a
// spreadsheet would read as a formula (=, +, -, @, tab, CR first) is made inert with a leading '.

const FORMULA_START = /^[=+\-@\t\r]/;

export function inertCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** RFC 4180 text; strings are neutralised, numbers written as they are. */
export function toCsv(header: string[], rows: (string | number | null | undefined)[][]): string {
  const line = (cells: (string | number | null | undefined)[]) =>
    cells.map((c) => (typeof c === 'number' ? String(c) : quote(inertCell(c ?? '')))).join(',');
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n';
}

export function downloadCsv(fileName: string, csv: string): void {
  // A BOM so that spreadsheet programs read UTF-8 (paths may be in any script).
  const blob = new Blob(['\ufeff', csv], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
