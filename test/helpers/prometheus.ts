// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line must
// be a HELP, a TYPE or a sample of a declared family, or parsing fails with the line.
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
// prom-client writes NaN as `Nan`; Prometheus reads values with Go's ParseFloat, which takes NaN in any case.
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[Nn][Aa][Nn]|[+-]Inf)';
const HELP_RE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL}=${LABEL_VALUE})(?:,${LABEL}=${LABEL_VALUE})*)?,?\\})? (${VALUE})(?: -?\\d+)?$`);
const LABEL_RE = new RegExp(`(${LABEL})=(${LABEL_VALUE})`, 'g');

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
  /** The value of the one sample with this name and (at least) these labels; undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
  find(name: string, labels?: Record<string, string>): Sample[];
}

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` of a histogram are `x`'s. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && ['histogram', 'summary'].includes(types.get(m[1]!) ?? '')) return m[1];
  return undefined;
}

export function parsePrometheus(text: string): ParsedMetrics {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const seen = new Set<string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    let m = HELP_RE.exec(line);
    if (m) {
      if (help.has(m[1]!)) throw new Error(`second HELP for ${m[1]} at ${where}`);
      help.set(m[1]!, m[2]!);
      continue;
    }
    m = TYPE_RE.exec(line);
    if (m) {
      if (types.has(m[1]!)) throw new Error(`second TYPE for ${m[1]} at ${where}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`not a HELP or TYPE comment at ${where}`);
    m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a sample at ${where}`);
    const name = m[1]!;
    if (!familyOf(name, types)) throw new Error(`sample of an undeclared family at ${where}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_RE)) {
      if (k! in labels) throw new Error(`label ${k} twice at ${where}`);
      labels[k!] = JSON.parse(v!) as string;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate sample at ${where}`);
    seen.add(key);
    const raw = m[3]!;
    const value = /^nan$/i.test(raw) ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name, labels, value });
  }
  const matches = (s: Sample, name: string, labels: Record<string, string>) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  const find = (name: string, labels: Record<string, string> = {}) => samples.filter((s) => matches(s, name, labels));
  return {
    samples,
    types,
    help,
    find,
    value(name, labels = {}) {
      const found = find(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    sum: (name, labels = {}) => find(name, labels).reduce((n, s) => n + s.value, 0),
  };
}
