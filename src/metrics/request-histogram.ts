// A histogram for the request path. prom-client's labelled Histogram.observe() costs ~0.7 µs here (it
// rebuilds and hashes the label set at every call); this one binds each label set once, so an
// observation is a bucket search and three additions (~20 ns). It registers into a prom-client registry
// as a metric of its own and renders exactly like prom-client's histograms (cumulative buckets, then
// _sum and _count), so scrapes and the embedded merge treat it the same.
import type { MetricValueWithName, Registry } from 'prom-client';

export interface HistogramSeries {
  observe(value: number): void;
}

interface Series extends HistogramSeries {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

export class RequestHistogram<L extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private series = new Map<string, Series>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    private buckets: readonly number[],
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of one label set, made once: keep it and call its observe(). */
  child(labels: Record<L, string>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const buckets = this.buckets;
      const counts = new Float64Array(buckets.length);
      const series: Series = {
        labels: { ...labels },
        counts,
        sum: 0,
        count: 0,
        observe(value: number) {
          // Cumulated at render time: one bucket per observation here.
          let i = 0;
          while (i < buckets.length && value > buckets[i]!) i++;
          if (i < buckets.length) counts[i]!++;
          series.sum += value;
          series.count++;
        },
      };
      s = series;
      this.series.set(key, s);
    }
    return s;
  }

  /** What prom-client's registry renders (and getMetricsAsJSON returns). */
  get(): { name: string; help: string; type: 'histogram'; values: MetricValueWithName<string>[]; aggregator: 'sum' } {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}
